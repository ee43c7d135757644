//go:build keyring

package main

import "testing"

// TestRealKeyringHelpExamples runs the help examples that store
// credentials in the system keyring (helpNeedsKeyring), under make
// test-keyring's private D-Bus session and unlocked gnome-keyring.
func TestRealKeyringHelpExamples(t *testing.T) { runHelpExamples(t, true) }
