// The array's input rules the embedded engine enforces, as pure functions that throw the array's refusal
// (DOMAIN.md §3.5, §4): names, hours of expiration and retention, volume sizes, copy priority.
import { arrayError } from "../errors.ts";
import type { CopyPriority } from "../port.ts";
import { sizeGranule } from "./catalog.ts";

export const maxNameLength = 31;
export const maxHours = 43_800;
/** The largest volume the array makes (16 TiB). */
export const maxVolumeBytes = 16 * 1024 ** 4;
const legalName = /^[A-Za-z0-9_.-]+$/;

export function checkName(name: string): void {
  if (name.length === 0) throw arrayError("INV_INPUT", "name is empty");
  if (name.length > maxNameLength) {
    throw arrayError("INV_INPUT_EXCEEDS_LENGTH", `name ${name} is longer than ${maxNameLength} characters`);
  }
  if (!legalName.test(name)) throw arrayError("INV_INPUT_ILLEGAL_CHAR", `name ${name} has an illegal character`);
}

function checkHours(what: string, hours: number): void {
  if (!Number.isInteger(hours)) throw arrayError("INV_INPUT", `${what} ${hours} is not a whole number of hours`);
  if (hours < 1) throw arrayError("INV_INPUT_BELOW_RANGE", `${what} ${hours} is below 1 hour`);
  if (hours > maxHours) throw arrayError("INV_INPUT_EXCEEDS_RANGE", `${what} ${hours} exceeds ${maxHours} hours`);
}

export function checkLifetime(expirationHours: number | undefined, retentionHours: number | undefined): void {
  if (expirationHours !== undefined) checkHours("expiration", expirationHours);
  if (retentionHours !== undefined) checkHours("retention", retentionHours);
  if (expirationHours !== undefined && retentionHours !== undefined && retentionHours > expirationHours) {
    throw arrayError(
      "INV_INPUT_RETAIN_GT_EXPIRE",
      `retention ${retentionHours}h exceeds expiration ${expirationHours}h`,
    );
  }
}

export function checkSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes % sizeGranule !== 0) {
    throw arrayError("INV_INPUT", `size ${sizeBytes} is not a whole number of MiB`);
  }
  if (sizeBytes < sizeGranule) throw arrayError("INV_INPUT_BELOW_RANGE", `size ${sizeBytes} is below 1 MiB`);
  if (sizeBytes > maxVolumeBytes) throw arrayError("INV_INPUT_EXCEEDS_RANGE", `size ${sizeBytes} exceeds 16 TiB`);
}

/** The array has three task priorities (high, medium, low); Same is medium. */
export function checkPriority(priority: CopyPriority): void {
  if (priority !== "Low" && priority !== "Same" && priority !== "High") {
    throw arrayError("INV_INPUT_BAD_ENUM_VALUE", `priority ${priority} is not one of Low, Same, High`);
  }
}

export function priorityRank(priority: CopyPriority): number {
  return priority === "High" ? 0 : priority === "Same" ? 1 : 2;
}
