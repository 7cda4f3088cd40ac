-- Printed by wrk after a run: one machine-readable line that bench/load.py parses.
-- Durations and latencies are in microseconds.
done = function(summary, latency, requests)
  io.write(string.format(
    "BENCH_WRK {\"requests\": %d, \"duration_us\": %d, \"errors_connect\": %d, \"errors_read\": %d, " ..
    "\"errors_write\": %d, \"errors_status\": %d, \"errors_timeout\": %d, \"latency_p50_us\": %d, " ..
    "\"latency_p99_us\": %d}\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
