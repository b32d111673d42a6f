/**
 * What a benchmark server answers over IPC (both servers of server-bench.js use it, so they
 * are measured the same way): `cpu` with its CPU time (and `snapshot()`, when given); with
 * BENCH_PROFILE=<dir>, `prof-start`/`prof-stop` bracket each measured window and write a CPU
 * profile of just that window (start-up and idle time left out) to the directory. With
 * BENCH_HEAP=1 it is a sampling heap profile of every allocation in the window instead
 * (BENCH_HEAP=live: only what is still alive at its end), in the same file format.
 */
import type { Session } from "node:inspector/promises";

export function answerBench(snapshot?: () => unknown): void {
  let session: Session | undefined;
  process.on("message", async (m) => {
    if (m === "cpu") {
      process.send?.({
        cpu: process.cpuUsage(),
        ...(snapshot === undefined ? {} : { snapshot: snapshot() }),
      });
    }
    if (m === "prof-start") {
      const inspector = await import("node:inspector/promises");
      session = new inspector.Session();
      session.connect();
      if (process.env.BENCH_HEAP) {
        await session.post("HeapProfiler.enable");
        await session.post(
          "HeapProfiler.startSampling",
          process.env.BENCH_HEAP === "live"
            ? { samplingInterval: 1024 }
            : {
                samplingInterval: 4096,
                includeObjectsCollectedByMajorGC: true,
                includeObjectsCollectedByMinorGC: true,
              },
        );
      } else {
        await session.post("Profiler.enable");
        await session.post("Profiler.start");
      }
      process.send?.({ profiling: true });
    }
    if (m === "prof-stop" && session !== undefined) {
      const { profile } = process.env.BENCH_HEAP
        ? await session.post("HeapProfiler.stopSampling")
        : await session.post("Profiler.stop");
      const { writeFileSync } = await import("node:fs");
      const file = `${process.env.BENCH_PROFILE}/${process.env.BENCH_CONFIG}-${Date.now()}.cpuprofile`;
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      session = undefined;
      process.send?.({ profile: file });
    }
  });
}
