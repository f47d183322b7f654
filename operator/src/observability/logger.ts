// The root logger: pino JSON on stdout, credentials and session keys redacted wherever they appear in a logged
// object (Secrets' data, tokens, passwords, WSAPI session keys, authorization headers).
import { pino, type Logger } from "pino";

export const redactedPaths = [
  "password",
  "*.password",
  "token",
  "*.token",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "sessionKey",
  "*.sessionKey",
  "*.data",
  "*.stringData",
  "credentials",
  "*.credentials",
];

export function rootLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    base: { component: "arraycopy-operator" },
    redact: { paths: redactedPaths, censor: "[redacted]" },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
