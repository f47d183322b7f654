// The WSAPI task poller: history is not news, but a task this engine started is, even when it began and ended
// before the first poll came round (a short copy on a busy machine).
import { describe, expect, it } from "vitest";
import type { JobIndication, JobObservation } from "./port.ts";
import { TaskPoller } from "./task-poller.ts";

const task = (id: string, m: Partial<JobObservation> = {}): JobObservation => ({
  id,
  operation: "Copy",
  copy: "dst",
  priority: "Same",
  jobState: "Completed",
  operationalStatus: ["Completed", "OK"],
  percentComplete: 100,
  errorCode: 0,
  errorDescription: "",
  timeSubmitted: 0,
  startTime: 0,
  endTime: 1,
  ...m,
});

async function firstPoll(
  lists: readonly (readonly JobObservation[])[],
  startedBeforePoll: readonly string[],
  startedAfterPoll: readonly string[] = [],
) {
  let call = 0;
  const seen: JobIndication[] = [];
  let polled: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    polled = resolve;
  });
  const poller = new TaskPoller(() => {
    const list = lists[Math.min(call, lists.length - 1)] ?? [];
    call += 1;
    if (call === lists.length) setTimeout(polled, 0);
    return Promise.resolve(list);
  }, 5);
  const stop = poller.subscribe((i) => seen.push(i));
  for (const id of startedBeforePoll) poller.started(id);
  poller.wake();
  await done;
  for (const id of startedAfterPoll) poller.started(id);
  stop();
  return seen.map((i) => `${i.kind} ${i.job.id}`);
}

describe("TaskPoller", () => {
  it("does not report tasks already finished at the first poll", async () => {
    expect(await firstPoll([[task("3")]], [])).toEqual([]);
  });

  it("reports a task it started that finished before the first poll: Started, then Finished", async () => {
    expect(await firstPoll([[task("3"), task("7")]], ["7"])).toEqual(["Started 7", "Finished 7"]);
  });

  it("reports a task it started whose create call returned only after the first poll filed it as history", async () => {
    expect(await firstPoll([[task("3"), task("7")]], [], ["7"])).toEqual(["Started 7", "Finished 7"]);
  });

  it("keeps polling for a task it started until a poll shows it, even when the list lags behind", async () => {
    const running = task("7", { jobState: "Running", operationalStatus: ["OK"], endTime: undefined });
    expect(await firstPoll([[], [], [], [running], [task("7")]], ["7"])).toEqual(["Started 7", "Finished 7"]);
  });

  it("reports such a task once, however often started() is told", async () => {
    expect(await firstPoll([[task("7")], [task("7")]], [], ["7", "7"])).toEqual(["Started 7", "Finished 7"]);
  });

  it("reports a task seen running, then finished, once each", async () => {
    const running = task("7", {
      jobState: "Running",
      operationalStatus: ["OK"],
      percentComplete: 40,
      endTime: undefined,
    });
    expect(await firstPoll([[], [running], [task("7")]], ["7"])).toEqual(["Started 7", "Finished 7"]);
  });

  it("reports a pushed job state at once; the next poll finds nothing new about it, nor polled news", async () => {
    const seen: string[] = [];
    const news: string[] = [];
    let lists = 0;
    const running = task("7", {
      jobState: "Running",
      operationalStatus: ["OK"],
      percentComplete: 10,
      endTime: undefined,
    });
    const poller = new TaskPoller(
      () => {
        lists += 1;
        return Promise.resolve(lists === 1 ? [] : [task("7"), task("8")]);
      },
      5,
      (job) => news.push(job.id),
    );
    const stop = poller.subscribe((i) => seen.push(`${i.kind} ${i.job.id}`));
    await new Promise((r) => setTimeout(r, 20));
    poller.observe(running);
    poller.observe(task("7"));
    // A late push of an older state changes nothing.
    poller.observe(running);
    expect(seen).toEqual(["Started 7", "Finished 7"]);
    poller.wake();
    await new Promise((r) => setTimeout(r, 40));
    stop();
    // Job 8 came by poll only: reported, and told as polled news; job 7 was not news to the poll.
    expect(seen).toEqual(["Started 7", "Finished 7", "Started 8", "Finished 8"]);
    expect(news).toEqual(["8"]);
  });
});
