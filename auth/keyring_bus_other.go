//go:build !((dragonfly && cgo) || (freebsd && cgo) || linux || netbsd || openbsd)

package auth

// sessionBusMissing: macOS and Windows keyrings need no session bus.
func sessionBusMissing(func(string) string) string { return "" }
