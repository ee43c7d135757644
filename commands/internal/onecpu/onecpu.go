// Package onecpu starts medplum on one CPU. Its init, which the Go runtime
// runs about halfway through package initialisation (it needs only os,
// runtime, strings and sync),
// sets GOMAXPROCS to 1; AllCPUs gives a command that works concurrently
// the runtime's default back once it is known which command runs.
//
// Why (issue 12, docs/benchmarks.md): with a second P, package init and
// the first request spread their allocations over two per-P caches (twice
// the memory pages faulted in) and the scheduler starts and wakes a thread
// for the idle P each time a goroutine becomes ready. A `get` on a 2-CPU
// machine took 0.2-0.3 ms less (of 2.8 ms) on one CPU from here; the same
// call at the start of main saved less than half of that.
//
// Nothing happens when the environment sets GOMAXPROCS (the user chose),
// or in a test binary (go test names it *.test and passes -test. flags):
// tests and benchmarks that import the command tree run their own work in
// process and keep every CPU.
package onecpu

import (
	"os"
	"runtime"
	"strings"
	"sync"
)

// lowered is whether init set GOMAXPROCS to 1.
var lowered bool

func init() {
	if os.Getenv("GOMAXPROCS") != "" || testBinary(os.Args) {
		return
	}
	runtime.GOMAXPROCS(1)
	lowered = true
}

// testBinary reports whether args are those of a binary go test built.
func testBinary(args []string) bool {
	if len(args) == 0 {
		return false
	}
	name := strings.TrimSuffix(args[0], ".exe")
	if strings.HasSuffix(name, ".test") {
		return true
	}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-test.") {
			return true
		}
	}
	return false
}

// AllCPUs sets GOMAXPROCS back to the runtime's default (every CPU the
// process may use, updated as that changes), if init set it to 1. Calls
// after the first do nothing.
var AllCPUs = sync.OnceFunc(func() {
	if lowered {
		runtime.SetDefaultGOMAXPROCS()
	}
})
