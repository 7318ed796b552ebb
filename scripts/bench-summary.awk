# Summarises `go test -bench` output for `make bench`: the median of every per-record metric of each benchmark
# over its -count runs, and decode+map and the encoding/json baseline as multiples of the jsontext tokenize floor
# (same run, same bytes). Plain awk, so it needs nothing beyond the Go toolchain and a POSIX system.
function median(name, unit,    n, i, j, t, v) {
	n = count[name, unit]
	for (i = 1; i <= n; i++) v[i] = vals[name, unit, i]
	for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
	if (n == 0) return ""
	return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	if (!(name in seen)) { seen[name] = 1; order[++names] = name }
	for (i = 3; i < NF; i += 2) {
		unit = $(i + 1)
		k = ++count[name, unit]
		vals[name, unit, k] = $i
		if (!((name, unit) in hasunit)) { hasunit[name, unit] = 1; units[name] = units[name] " " unit }
	}
}
END {
	print ""
	print "medians per benchmark (runs):"
	for (i = 1; i <= names; i++) {
		name = order[i]
		line = sprintf("  %-36s", name " (" count[name, "ns/op"] ")")
		# the per-record figures first, then whatever else a benchmark reports (not the testing package's own)
		split("ns/record cpu-ns/record allocs/record" units[name], us, " ")
		delete shown
		for (j = 1; j in us; j++) {
			u = us[j]
			if (u in shown || !((name, u) in hasunit) || u ~ /^(ns\/op|B\/op|allocs\/op|MB\/s)$/) continue
			shown[u] = 1
			v = median(name, u)
			line = line sprintf((v >= 100 ? "  %.0f %s" : "  %.3g %s"), v, u)
		}
		print line
	}
	# Each benchmark's k-th result comes from the k-th run when runs are separate `go test` invocations, as in
	# `make bench`: the ratio is taken within each run (load on a shared machine drifts between runs) and the median
	# of those ratios is printed, in wall time and in process CPU time.
	print ""
	print "ratio to the jsontext tokenize floor, same run (median over runs; CPU time in brackets):"
	split("BenchmarkDecodeAndMapPage BenchmarkEncodingJSONBaseline", rs, " ")
	for (j = 1; j in rs; j++) {
		n = count[rs[j], "ns/record"]
		if (n == 0 || count["BenchmarkTokenizeFloor", "ns/record"] < n) continue
		for (k = 1; k <= n; k++) {
			vals["ratio", "wall", k] = vals[rs[j], "ns/record", k] / vals["BenchmarkTokenizeFloor", "ns/record", k]
			if (vals["BenchmarkTokenizeFloor", "cpu-ns/record", k] > 0)
				vals["ratio", "cpu", k] = vals[rs[j], "cpu-ns/record", k] / vals["BenchmarkTokenizeFloor", "cpu-ns/record", k]
		}
		count["ratio", "wall"] = n
		count["ratio", "cpu"] = n
		printf "  %-34s %5.2fx  (%.2fx)   runs: %d\n", rs[j], median("ratio", "wall"), median("ratio", "cpu"), n
	}
}
