//go:build (dragonfly && cgo) || (freebsd && cgo) || linux || netbsd || openbsd

package auth

import (
	"os"
	"path/filepath"
	"strconv"
)

// sessionBusMissing says why there is no D-Bus session bus to reach the Secret
// Service, or "" when there is one. Without a bus address godbus runs
// dbus-launch, which starts a dbus-daemon (and, by activation, a keyring
// daemon) that keeps running after we exit (cli/cli#7582), so we must not get
// that far.
//
// godbus looks at DBUS_SESSION_BUS_ADDRESS, then /run/user/<uid>/bus and
// /run/user/<uid>/dbus-session. $XDG_RUNTIME_DIR/bus is the standard socket
// too; when only it exists, its address is exported for godbus to find.
func sessionBusMissing(getenv func(string) string) string {
	if a := getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return ""
	}
	run := runUserDir()
	if exists(filepath.Join(run, "bus")) || exists(filepath.Join(run, "dbus-session")) {
		return ""
	}
	if dir := getenv("XDG_RUNTIME_DIR"); dir != "" {
		if sock := filepath.Join(dir, "bus"); exists(sock) {
			os.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+sock)
			return ""
		}
	}
	return "no D-Bus session bus (neither DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR/bus is set up), so the Secret Service cannot be reached"
}

// runUserDir is godbus's fallback runtime directory; tests replace it.
var runUserDir = func() string { return "/run/user/" + strconv.Itoa(os.Getuid()) }

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
