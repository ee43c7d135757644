# Turns `go test -bench` output into one Markdown table: a row per
# benchmark (a metric named unit:variant, e.g. req/s:raw, goes to the row
# benchmark/variant), a column per metric. Rows of a benchmark with a "raw"
# variant get a "vs raw" column: req/s and CPU per request relative to it
# (or, without req/s, wall and CPU time per run).
# POSIX awk (mawk, gawk, BSD awk).
function addcol(u) { if (!(u in hascol)) { hascol[u] = 1; cols[++ncol] = u } }
BEGIN {
	split("ms/run cpu-ms/run server-cpu-ms/run x-floor req/s cpu-us/req MB-peak-RSS results invites/s conflicts/row limit rows/s bots/s vs-loop MiB/s files resources/s resources MB-input", pref, " ")
	for (i = 1; i in pref; i++) addcol(pref[i])
	nrow = 0
}
/^Benchmark/ {
	name = $1
	sub(/^Benchmark/, "", name)
	sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i += 2) {
		v = $i; u = $(i + 1)
		if (u == "ns/op" || u == "B/op" || u == "allocs/op" || u == "MB/s") continue
		row = name
		if (index(u, ":") > 0) { row = name "/" substr(u, index(u, ":") + 1); u = substr(u, 1, index(u, ":") - 1) }
		if (!(row in hasrow)) { hasrow[row] = 1; rows[++nrow] = row }
		val[row, u] = v
		used[u] = 1
	}
}
function fmt(v) {
	if (v == "") return ""
	if (v + 0 >= 100) return sprintf("%.0f", v)
	if (v + 0 >= 10) return sprintf("%.1f", v)
	return sprintf("%.2f", v)
}
function base(r) { sub(/\/[^\/]*$/, "", r); return r }
END {
	line = "| benchmark |"; sep = "| --- |"
	for (c = 1; c <= ncol; c++) if (cols[c] in used) { line = line " " cols[c] " |"; sep = sep " ---: |" }
	line = line " vs raw |"; sep = sep " --- |"
	print line; print sep
	# Rows of one benchmark together: its raw variant first, the binary last.
	n = 0
	for (r = 1; r <= nrow; r++) {
		b = base(rows[r])
		if (b in done) continue
		done[b] = 1
		if ((b "/raw") in hasrow) order[++n] = b "/raw"
		for (q = r; q <= nrow; q++) if (base(rows[q]) == b && rows[q] != b "/raw" && rows[q] != b "/medplum") order[++n] = rows[q]
		if ((b "/medplum") in hasrow) order[++n] = b "/medplum"
	}
	for (r = 1; r <= n; r++) {
		row = order[r]; line = "| " row " |"
		for (c = 1; c <= ncol; c++) if (cols[c] in used) line = line " " fmt(val[row, cols[c]]) " |"
		rel = ""; raw = base(row) "/raw"
		if (row != raw && (raw in hasrow) && val[raw, "req/s"] > 0 && val[raw, "cpu-us/req"] > 0) {
			rel = sprintf("req/s %+.0f%%, CPU/req %+.0f%%", (val[row, "req/s"] / val[raw, "req/s"] - 1) * 100, (val[row, "cpu-us/req"] / val[raw, "cpu-us/req"] - 1) * 100)
		} else if (row != raw && (raw in hasrow) && val[raw, "ms/run"] > 0 && val[raw, "cpu-ms/run"] > 0) {
			rel = sprintf("wall %+.0f%%, CPU %+.0f%%", (val[row, "ms/run"] / val[raw, "ms/run"] - 1) * 100, (val[row, "cpu-ms/run"] / val[raw, "cpu-ms/run"] - 1) * 100)
		}
		print line " " rel " |"
	}
}
