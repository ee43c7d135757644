package authcmd

import (
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/cli/browser"

	"github.com/medplumcli/medplum/commands/iostreams"
)

// openBrowser opens url with MEDPLUM_BROWSER, else BROWSER (a command line;
// the URL is added as its last argument), else the system's opener
// (github.com/cli/browser: open, xdg-open, wslview, ...). It does not wait
// for the browser.
func openBrowser(getenv func(string) string, url string) error {
	launcher := getenv("MEDPLUM_BROWSER")
	if launcher == "" {
		launcher = getenv("BROWSER")
	}
	if launcher != "" {
		args := strings.Fields(launcher)
		cmd := exec.Command(args[0], append(args[1:], url)...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			return err
		}
		go cmd.Wait() // reap it; the login does not wait for the browser
		return nil
	}
	browser.Stdout, browser.Stderr = io.Discard, io.Discard
	return browser.OpenURL(url)
}

// showURL always prints the sign-in URL (a browser may not open, or be on
// another machine) and, unless noBrowser, tries to open it.
func showURL(ios *iostreams.IOStreams, getenv func(string) string, noBrowser bool, url string) {
	w := ios.ErrOut
	if noBrowser {
		fmt.Fprintf(w, "Open this URL in a browser to sign in:\n  %s\n", url)
		fmt.Fprintln(w, "When the browser is sent to a localhost address that does not load, copy that address from the address bar.")
		return
	}
	fmt.Fprintf(w, "Opening the sign-in page in your browser. If it does not open, visit:\n  %s\n", url)
	if err := openBrowser(getenv, url); err != nil {
		fmt.Fprintf(w, "(could not open a browser: %v)\n", err)
	}
}
