// Command medplum-sandbox runs the in-memory Medplum server of
// client/medplumtest on a loopback port: a demo server and the target of the
// official-CLI conformance tests. Everything lives in memory and is lost
// when it stops.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "medplum-sandbox: %v\n", err)
		os.Exit(2)
	}
}

type options struct {
	addr         string
	clientID     string
	clientSecret string
	projectName  string
	members      int
	inviteCost   string
	conflictRate float64
	printEnv     bool
	readyFile    string
	mailer       bool
	bots         bool
	deployCost   time.Duration
	latency      time.Duration
}

func run(args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("medplum-sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "address to listen on")
	fs.StringVar(&o.clientID, "client-id", "", "id of the seeded project-admin ClientApplication (random if empty)")
	fs.StringVar(&o.clientSecret, "client-secret", "", "its secret (random if empty)")
	fs.StringVar(&o.projectName, "project-name", "Sandbox Project", "name of the seeded project (its admin client is \"<name> Admin Client\")")
	fs.IntVar(&o.members, "members", 0, "number of generated members to add to the project")
	fs.StringVar(&o.inviteCost, "invite-cost", "realistic", `server-side cost of an invite: "realistic", "0", or PARALLEL,SERIAL durations like 60ms,40ms`)
	fs.Float64Var(&o.conflictRate, "conflict-rate", medplumtest.RealisticConflictRate, "q of the invite conflict model (0 disables 409 serialization conflicts)")
	fs.BoolVar(&o.printEnv, "print-env", false, "print export lines for MEDPLUM_* variables instead of the banner")
	fs.StringVar(&o.readyFile, "ready-file", "", "write the base URL to this file once listening")
	fs.BoolVar(&o.mailer, "mailer", false, "accept invite e-mails (recorded, never sent) instead of failing like a server without SES")
	fs.BoolVar(&o.bots, "bots", true, `"bots" in the project's features (--bots=false: $deploy and $execute answer "Bots not enabled")`)
	fs.DurationVar(&o.deployCost, "bot-deploy-cost", 0, "server-side time of one bot $deploy, e.g. 40ms")
	fs.DurationVar(&o.latency, "latency", 0, "time every request waits before it is handled, e.g. 5ms (a model of a real server's work)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: medplum-sandbox [flags]\n\nRuns an in-memory Medplum server for demos and tests.\n"+
			"It does not run bot code: a bot's $execute answers with what would run (the\n"+
			"bot, its code's SHA-256 and size) and the input, never with a result.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	parallel, serial, err := parseInviteCost(o.inviteCost)
	if err != nil {
		return err
	}
	opts := []medplumtest.Option{
		medplumtest.WithClient(o.clientID, o.clientSecret),
		medplumtest.WithProjectName(o.projectName),
		medplumtest.WithMembers(o.members),
		medplumtest.WithInviteCost(parallel, serial),
		medplumtest.WithConflictRate(o.conflictRate),
	}
	if o.mailer {
		opts = append(opts, medplumtest.WithMailer())
	}
	if !o.bots {
		opts = append(opts, medplumtest.WithoutBots())
	}
	if o.deployCost < 0 || o.latency < 0 {
		return fmt.Errorf("--bot-deploy-cost %s, --latency %s: must not be negative", o.deployCost, o.latency)
	}
	opts = append(opts, medplumtest.WithBotDeployCost(o.deployCost))
	// Signals are caught before the ready file says the server is up, so
	// that a stop sent as soon as it is there shuts down cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals()...)
	defer stop()

	srv := medplumtest.New(opts...)
	srv.SetRequestLog(false) // nobody reads it here; memory stays flat
	srv.SetLatency(o.latency)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv.Start(ln)
	printStart(stdout, srv, o.printEnv)
	if o.readyFile != "" {
		if err := writeFileAtomic(o.readyFile, srv.URL+"\n"); err != nil {
			_ = srv.Shutdown(context.Background())
			return err
		}
	}

	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if !o.printEnv {
		fmt.Fprintln(stdout, "medplum-sandbox: stopped")
	}
	return err
}

// stopSignals are the signals that stop the sandbox: SIGTERM, and SIGINT
// unless it was started with SIGINT ignored. A shell starts a background
// job that way (make demo's sandbox), so that Ctrl-C at the terminal
// reaches the foreground command alone; catching SIGINT anyway stopped the
// sandbox under the medplum command the Ctrl-C was meant for, which then
// failed with a dropped connection instead of "interrupted".
func stopSignals() []os.Signal {
	if signal.Ignored(os.Interrupt) {
		return []os.Signal{syscall.SIGTERM}
	}
	return []os.Signal{os.Interrupt, syscall.SIGTERM}
}

func parseInviteCost(s string) (parallel, serial time.Duration, err error) {
	switch s {
	case "realistic":
		return medplumtest.RealisticInviteParallel, medplumtest.RealisticInviteSerial, nil
	case "0", "none":
		return 0, 0, nil
	}
	p, q, ok := strings.Cut(s, ",")
	if !ok {
		return 0, 0, fmt.Errorf("--invite-cost %q: want realistic, 0, or PARALLEL,SERIAL (e.g. 60ms,40ms)", s)
	}
	if parallel, err = time.ParseDuration(p); err == nil {
		serial, err = time.ParseDuration(q)
	}
	if err != nil || parallel < 0 || serial < 0 {
		return 0, 0, fmt.Errorf("--invite-cost %q: want realistic, 0, or PARALLEL,SERIAL (e.g. 60ms,40ms)", s)
	}
	return parallel, serial, nil
}

// printStart prints the connection details. It is a sandbox: the secrets are
// printed on purpose.
func printStart(w io.Writer, srv *medplumtest.Server, env bool) {
	sd := srv.Seed
	if env {
		fmt.Fprintf(w, "export MEDPLUM_BASE_URL=%s\n", srv.URL)
		fmt.Fprintf(w, "export MEDPLUM_CLIENT_ID=%s\n", sd.Client.ID)
		fmt.Fprintf(w, "export MEDPLUM_CLIENT_SECRET=%s\n", sd.Client.Secret)
		fmt.Fprintf(w, "export MEDPLUM_PROJECT_ID=%s\n", sd.ProjectID)
		fmt.Fprintf(w, "export MEDPLUM_SANDBOX_SUPER_CLIENT_ID=%s\n", sd.SuperAdminClient.ID)
		fmt.Fprintf(w, "export MEDPLUM_SANDBOX_SUPER_CLIENT_SECRET=%s\n", sd.SuperAdminClient.Secret)
		fmt.Fprintf(w, "export MEDPLUM_SANDBOX_ADMIN_EMAIL=%s\n", sd.AdminEmail)
		fmt.Fprintf(w, "export MEDPLUM_SANDBOX_ADMIN_PASSWORD=%s\n", sd.AdminPassword)
		return
	}
	fmt.Fprintf(w, "medplum-sandbox: in-memory Medplum server listening (Ctrl-C to stop)\n")
	fmt.Fprintf(w, "  base URL:             %s\n", srv.URL)
	fmt.Fprintf(w, "  project:              %s (%s)\n", sd.ProjectName, sd.ProjectID)
	fmt.Fprintf(w, "  client id:            %s\n", sd.Client.ID)
	fmt.Fprintf(w, "  client secret:        %s\n", sd.Client.Secret)
	fmt.Fprintf(w, "  super admin client:   %s / %s\n", sd.SuperAdminClient.ID, sd.SuperAdminClient.Secret)
	fmt.Fprintf(w, "  admin user:           %s / %s\n", sd.AdminEmail, sd.AdminPassword)
}

func writeFileAtomic(name, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".ready-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), name)
}
