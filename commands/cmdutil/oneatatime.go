package cmdutil

import "github.com/spf13/cobra"

// oneAtATimeKey is the annotation MarkOneAtATime sets.
const oneAtATimeKey = "medplum:one-at-a-time"

// MarkOneAtATime marks a command that sends its requests one after the
// other and has nothing to clean up when it is cut short (the REST
// commands). Such a command runs on one CPU (GOMAXPROCS=1, unless the
// environment sets GOMAXPROCS), and Ctrl-C ends it at once by the signal's
// default action, as it ends curl or the official CLI, without "medplum:
// interrupted": starting the threads for a second CPU and for the signal
// handler took longer than the rest of a typical get (issue 12). (On
// Windows, where a process cannot end by a signal and a Ctrl-C left to
// the default action would not exit 130, the handler is kept.) A command
// that runs requests concurrently, or writes a journal, a part file or
// anything else it should finish or say how to resume, must not be marked.
func MarkOneAtATime(cmd *cobra.Command) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[oneAtATimeKey] = "true"
}

// OneAtATime reports whether MarkOneAtATime marked cmd.
func OneAtATime(cmd *cobra.Command) bool { return cmd.Annotations[oneAtATimeKey] == "true" }
