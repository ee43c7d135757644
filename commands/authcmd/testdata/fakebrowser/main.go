// Command fakebrowser plays the user's browser in black-box tests of
// `medplum login`: medplum runs it (MEDPLUM_BROWSER) with the sign-in URL.
//
//	FAKEBROWSER_LOG   file the URL is appended to
//	FAKEBROWSER_MODE  "" follow the URL and its redirects, as a browser does
//	                  "forge" go straight to the redirect URI with a wrong state
//	                  "none" do nothing (nobody signs in)
package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
)

func main() {
	u := os.Args[len(os.Args)-1]
	if p := os.Getenv("FAKEBROWSER_LOG"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, u)
			f.Close()
		}
	}
	switch os.Getenv("FAKEBROWSER_MODE") {
	case "none":
		return
	case "forge":
		parsed, err := url.Parse(u)
		if err != nil {
			os.Exit(1)
		}
		u = parsed.Query().Get("redirect_uri") + "/?code=forged-code&state=forged-state"
	}
	resp, err := http.Get(u)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	resp.Body.Close()
}
