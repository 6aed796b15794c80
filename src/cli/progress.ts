/** A progress bar on a terminal (stderr), in bytes. */
import cliProgress from "cli-progress";

export interface Progress {
  update(value: number): void;
  stop(): void;
}

export function progressBar(stream: NodeJS.WritableStream, total: number): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream: stream,
      format: " {bar} {percentage}% | {value_mb}/{total_mb} MB | {eta_formatted} left",
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const mb = (v: number) => (v / 1048576).toFixed(1);
  bar.start(total, 0, { value_mb: mb(0), total_mb: mb(total) });
  return {
    update(v) {
      bar.update(Math.min(v, total), { value_mb: mb(v) });
    },
    stop() {
      bar.stop();
    },
  };
}
