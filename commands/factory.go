package commands

import (
	"sync"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/version"
)

// NewFactory wires the real dependencies. Each is built on first use and
// then cached for the rest of the run.
func NewFactory() *cmdutil.Factory {
	v, _, _ := version.Info()
	f := &cmdutil.Factory{AppVersion: v, IOStreams: iostreams.System()}
	f.Config = lazy(func() (*config.File, error) {
		dir, err := config.Dir()
		if err != nil {
			return nil, err
		}
		return config.Load(dir)
	})
	f.Resolved = lazy(func() (*config.Resolved, error) {
		file, err := f.Config()
		if err != nil {
			return nil, err
		}
		name, err := file.SelectProfile(f.Flags)
		if err != nil {
			return nil, err
		}
		return file.Resolve(name, f.Flags)
	})
	return f
}

// lazy returns a function that calls fn once and then returns its result.
func lazy[T any](fn func() (T, error)) func() (T, error) {
	var (
		once sync.Once
		val  T
		err  error
	)
	return func() (T, error) {
		once.Do(func() { val, err = fn() })
		return val, err
	}
}
