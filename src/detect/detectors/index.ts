/** The detector for each rule type: one explicit map (a missing type fails to compile). */
import type { RuleSpec } from "../schema.ts";
import type { CompiledRule } from "../rule.ts";
import { distinctDetector } from "./distinct.ts";
import { matchDetector } from "./match.ts";
import { sequenceDetector } from "./sequence.ts";
import { thresholdDetector } from "./threshold.ts";
import type { Detector } from "./types.ts";

export const DETECTORS: Record<RuleSpec["type"], (rule: CompiledRule) => Detector> = {
  distinct: distinctDetector,
  match: matchDetector,
  sequence: sequenceDetector,
  threshold: thresholdDetector,
};

export type { Detector } from "./types.ts";
