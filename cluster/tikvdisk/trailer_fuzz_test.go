package tikvdisk

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func FuzzParseTrailerListing(f *testing.F) {
	f.Add("4096\t/data/db/000012.sst\tf7 cf f4 85 b7 41 e2 88\n")
	f.Add("1024\t/data/raft-engine/0000000000000001.raftlog\t524146542d4c4f472d46494c452d4845\n0\t/data/db/000013.sst\t\n")
	f.Add("\n\n12\t/a b/c.sst\t00\n")
	f.Add("-1\t/x.sst\t00\n")
	f.Add("12\t\t00\n")
	f.Add("12\t/x.sst\tzz\n")
	f.Fuzz(func(t *testing.T, listing string) {
		entries, err := ParseTrailerListing(strings.NewReader(listing))
		if err != nil {
			if !strings.Contains(err.Error(), "trailer listing") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		var again strings.Builder
		for _, e := range entries {
			if e.Path == "" || e.Size < 0 || len(e.Probe) > 16 || strings.ContainsAny(e.Path, "\t\n") {
				t.Fatalf("accepted entry %+v", e)
			}
			fmt.Fprintf(&again, "%d\t%s\t%x\n", e.Size, e.Path, e.Probe)
		}
		// What was accepted renders back to a listing that reads the same.
		back, err := ParseTrailerListing(strings.NewReader(again.String()))
		if err != nil || len(back) != len(entries) {
			t.Fatalf("re-read %d entries (%v), want %d", len(back), err, len(entries))
		}
		for i := range back {
			if back[i].Path != entries[i].Path || back[i].Size != entries[i].Size || !bytes.Equal(back[i].Probe, entries[i].Probe) {
				t.Fatalf("entry %d: %+v became %+v", i, entries[i], back[i])
			}
		}
		_ = ProveListing(entries, ProveOptions{})
	})
}
