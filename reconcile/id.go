package reconcile

import "golang.org/x/text/unicode/norm"

// NormalID returns id in Unicode's composed form (NFC). Ids are compared in
// that form everywhere — manifests, the state, saved plans, lists — so that
// "café" typed with a combining accent is the same customer as "café"
// typed with a precomposed one.
func NormalID(id string) string {
	for i := 0; i < len(id); i++ {
		if id[i] >= 0x80 {
			return norm.NFC.String(id)
		}
	}
	return id
}
