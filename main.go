// Command medplum is an admin CLI for Medplum, the open-source FHIR platform.
package main

import (
	"os"

	"github.com/medplumcli/medplum/commands"
)

func main() { os.Exit(commands.Main()) }
