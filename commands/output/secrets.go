package output

import (
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/ojson"
)

// WithoutSecrets returns a JSON document with every object member whose
// name marks a credential (client.IsSecretName: a ClientApplication's
// secret and retiringSecret, a Project's secret and systemSecret, a
// site's recaptchaSecretKey, ...) left out, at any depth. Everything else
// stays as the server wrote it: key order, unknown fields, number spelling.
// Commands use it to print server data the user did not ask for by name
// (auth/me holds the signed-in client's secret).
func WithoutSecrets(doc []byte) ([]byte, error) {
	n, err := ojson.Parse(doc)
	if err != nil {
		return nil, err
	}
	if !dropSecrets(n) {
		return doc, nil
	}
	return n.Bytes(), nil
}

// dropSecrets removes the secret members under n and reports whether there
// were any.
func dropSecrets(n *ojson.Node) bool {
	dropped := false
	switch n.Kind {
	case ojson.Object:
		for i := 0; i < len(n.Keys); i++ {
			if client.IsSecretName(n.Keys[i]) {
				n.Del(n.Keys[i])
				i--
				dropped = true
				continue
			}
			dropped = dropSecrets(n.Vals[i]) || dropped
		}
	case ojson.Array:
		for _, e := range n.Elems {
			dropped = dropSecrets(e) || dropped
		}
	}
	return dropped
}
