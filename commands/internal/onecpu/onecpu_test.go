package onecpu

import (
	"runtime"
	"testing"
)

func TestTestBinary(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"/usr/local/bin/medplum", "get", "Patient"}, false},
		{[]string{"medplum.exe", "get", "Patient"}, false},
		{[]string{"medplum", "get", "Patient?name=test"}, false},
		{[]string{"/tmp/go-build1/b001/commands.test", "-test.run=X"}, true},
		{[]string{`C:\Temp\commands.test.exe`}, true},
		{[]string{"./renamed", "-test.v"}, true},
		{nil, false},
	} {
		if got := testBinary(c.args); got != c.want {
			t.Errorf("testBinary(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

// In a test binary init leaves GOMAXPROCS alone, and AllCPUs does nothing:
// a GOMAXPROCS the test sets stays.
func TestTestBinaryKeepsEveryCPU(t *testing.T) {
	if lowered {
		t.Fatal("init set GOMAXPROCS to 1 in a test binary")
	}
	was := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(was)
	AllCPUs()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("AllCPUs changed GOMAXPROCS from 1 to %d in a test binary (init had not lowered it)", got)
	}
}
