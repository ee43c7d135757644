package rest

import (
	"net/http"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// NewCmds returns get, post, put, patch and delete.
func NewCmds(f *cmdutil.Factory) []*cobra.Command {
	return []*cobra.Command{
		NewCmdGet(f, nil),
		NewCmdWrite(f, http.MethodPost, nil),
		NewCmdWrite(f, http.MethodPut, nil),
		NewCmdWrite(f, http.MethodPatch, nil),
		NewCmdWrite(f, http.MethodDelete, nil),
	}
}
