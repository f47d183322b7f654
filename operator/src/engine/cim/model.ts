// CIM values in and out of their wire text: constructors for the values the driver and the test array send, CIM
// datetimes (DSP0004 "yyyymmddhhmmss.mmmmmmsutc") to and from milliseconds, and `plain`, which turns an instance
// into a JS record by the declared types so the caller validates it with its zod schema (schemas.ts).
import type { CimScalarType, CimValue, Instance, InstanceName, KeyValue } from "./xml.ts";
import { embedInstance } from "./xml.ts";

const scalar = (type: CimScalarType, text: string | null): CimValue => ({ kind: "scalar", type, text });

export const cim = {
  str: (s: string | null): CimValue => scalar("string", s),
  u16: (n: number): CimValue => scalar("uint16", String(n)),
  u32: (n: number): CimValue => scalar("uint32", String(n)),
  u64: (n: number): CimValue => scalar("uint64", String(n)),
  bool: (b: boolean): CimValue => scalar("boolean", b ? "TRUE" : "FALSE"),
  time: (ms: number | undefined): CimValue => scalar("datetime", ms === undefined ? null : formatDatetime(ms)),
  /** An interval in hours (DSP0004 "ddddddddhhmmss.mmmmmm:000"). */
  hours: (h: number): CimValue => scalar("datetime", formatInterval(h * 3_600_000)),
  ref: (name: InstanceName | null): CimValue => ({ kind: "ref", ref: name }),
  u16s: (ns: readonly number[]): CimValue => ({ kind: "array", type: "uint16", items: ns.map(String) }),
  strs: (ss: readonly string[]): CimValue => ({ kind: "array", type: "string", items: ss }),
  embedded: (i: Instance): CimValue => ({ kind: "scalar", type: "string", text: embedInstance(i), embedded: true }),
};

export const key = {
  str: (s: string): KeyValue => ({ kind: "scalar", type: "string", text: s }),
  ref: (r: InstanceName): KeyValue => ({ kind: "ref", ref: r }),
};

const pad = (n: number, w: number): string => String(n).padStart(w, "0");

export function formatDatetime(ms: number): string {
  const d = new Date(ms);
  return (
    `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}` +
    `${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}` +
    `.${pad(d.getUTCMilliseconds() * 1000, 6)}+000`
  );
}

export function formatInterval(ms: number): string {
  const s = Math.floor(ms / 1000);
  const days = Math.floor(s / 86_400);
  const hms = `${pad(Math.floor(s / 3600) % 24, 2)}${pad(Math.floor(s / 60) % 60, 2)}${pad(s % 60, 2)}`;
  return `${pad(days, 8)}${hms}.${pad((ms % 1000) * 1000, 6)}:000`;
}

const timestamp = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{6})([+-])(\d{3})$/;
const interval = /^(\d{8})(\d{2})(\d{2})(\d{2})\.(\d{6}):000$/;

/** A CIM datetime: a timestamp as ms since the epoch, or an interval as ms; undefined when it is neither. */
export function parseDatetime(text: string): number | undefined {
  const t = timestamp.exec(text);
  if (t !== null) {
    const [, y, mo, d, h, mi, s, us, sign, off] = t.map(Number);
    const utc = Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0, Math.floor((us ?? 0) / 1000));
    const offset = (t[8] === "-" ? -1 : 1) * (off ?? 0) * 60_000;
    return sign === undefined ? undefined : utc - offset;
  }
  const i = interval.exec(text);
  if (i === null) return undefined;
  const [, d, h, mi, s, us] = i.map(Number);
  return ((((d ?? 0) * 24 + (h ?? 0)) * 60 + (mi ?? 0)) * 60 + (s ?? 0)) * 1000 + Math.floor((us ?? 0) / 1000);
}

function convert(type: CimScalarType, text: string): unknown {
  switch (type) {
    case "boolean":
      return text.trim().toUpperCase() === "TRUE";
    case "datetime":
      return parseDatetime(text.trim()) ?? text;
    case "string":
    case "char16":
      return text;
    default: {
      const n = Number(text.trim());
      return Number.isFinite(n) && text.trim() !== "" ? n : text;
    }
  }
}

/** A property value as JS: numbers, booleans, datetimes as ms, NULL as null, references as InstanceName. */
export function plainValue(v: CimValue): unknown {
  switch (v.kind) {
    case "scalar":
      return v.text === null ? null : convert(v.type, v.text);
    case "array":
      return v.items.map((t) => convert(v.type, t));
    case "ref":
      return v.ref;
  }
}

export function plain(i: Instance): Record<string, unknown> {
  return Object.fromEntries(Object.entries(i.properties).map(([k, v]) => [k, plainValue(v)]));
}

/** The text of a string key (DeviceID, InstanceID), if the name has it. */
export function keyText(n: InstanceName, k: string): string | undefined {
  const v = n.keys[k];
  return v?.kind === "scalar" ? v.text : undefined;
}

/** Two instance names are the same object when their class (case-insensitively) and keys agree. */
export function sameName(a: InstanceName, b: InstanceName): boolean {
  if (a.className.toLowerCase() !== b.className.toLowerCase()) return false;
  const ak = Object.keys(a.keys);
  if (ak.length !== Object.keys(b.keys).length) return false;
  return ak.every((k) => {
    const x = a.keys[k];
    const y = b.keys[k];
    if (x === undefined || y === undefined) return false;
    if (x.kind === "ref" || y.kind === "ref") return x.kind === "ref" && y.kind === "ref" && sameName(x.ref, y.ref);
    return x.text === y.text;
  });
}
