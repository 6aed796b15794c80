/**
 * Syslog-style sshd lines (the format of /var/log/auth.log that both Portcullis' sshd parser and fail2ban's
 * sshd filter read), stamped with the current local time (both read the stamp as local time).
 */
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

let cachedSecond = -1;
let cachedStamp = "";

export function stamp(d = new Date()): string {
  const sec = Math.floor(d.getTime() / 1000);
  if (sec === cachedSecond) return cachedStamp;
  const p = (n: number) => String(n).padStart(2, "0");
  cachedSecond = sec;
  cachedStamp = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return cachedStamp;
}

export function failedPassword(ip: string, pid: number, port: number, user = "root"): string {
  return `${stamp()} bench sshd[${pid}]: Failed password for ${user} from ${ip} port ${port} ssh2\n`;
}

/** Lines that match nothing to ban: accepted logins, session bookkeeping, cron. */
export function benign(i: number): string {
  const ip = `10.99.${(i >> 8) & 255}.${i & 255}`;
  switch (i % 4) {
    case 0:
      return `${stamp()} bench sshd[${2000 + (i % 3000)}]: Accepted publickey for deploy from ${ip} port ${30000 + (i % 30000)} ssh2: ED25519 SHA256:3pWq0mVx1kE2o0nS5s1Xq4bqkq0xk0m1fYb6p6Yk1pE\n`;
    case 1:
      return `${stamp()} bench sshd[${2000 + (i % 3000)}]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)\n`;
    case 2:
      return `${stamp()} bench CRON[${5000 + (i % 3000)}]: pam_unix(cron:session): session closed for user root\n`;
    default:
      return `${stamp()} bench sshd[${2000 + (i % 3000)}]: Disconnected from user deploy ${ip} port ${30000 + (i % 30000)}\n`;
  }
}
