import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { rootLogger } from "./logger.ts";

describe("root logger", () => {
  it("redacts credentials wherever they appear in a logged object", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = rootLogger("info", sink);
    log.info(
      {
        password: "hunter2",
        secret: { data: { password: "cGFzcw==" }, stringData: { password: "pass" } },
        session: { sessionKey: "0-abc" },
        req: { headers: { authorization: "Bearer xyz" } },
        user: { token: "t0k" },
      },
      "Logged in",
    );
    const out = lines.join("");
    for (const leaked of ["hunter2", "cGFzcw==", '"pass"', "0-abc", "Bearer xyz", "t0k"])
      expect(out).not.toContain(leaked);
    expect(out).toContain("[redacted]");
    expect(JSON.parse(out)).toMatchObject({ msg: "Logged in", component: "arraycopy-operator" });
  });
});
