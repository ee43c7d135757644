//go:build race

package clitest

// raceBuild: the tests run with -race, so the binary they run is built
// with -race as well, and a data race in the product fails the test that
// made it (the report goes to stderr, the exit code becomes 66).
const raceBuild = true
