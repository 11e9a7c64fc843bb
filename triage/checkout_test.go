package triage

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
)

// TestIDsIndependentOfCheckout clones the fixture (crates in a cargo
// workspace, one standalone fuzz crate) and the hostile workspace (the
// crate at the root, fuzz/ below, what `cargo fuzz init` makes) into two
// differently named directories each, builds in each and runs: bucket ids
// and memberships are the same. A key names the crate, never the checkout
// directory ("echo/src/lib.rs", not "checkout-one/src/lib.rs").
func TestIDsIndependentOfCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four copies")
	}
	for _, src := range []string{fixture.Root(), fixture.HostileRoot()} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			var got []map[string]string
			for _, name := range []string{"checkout-one", "other_name"} {
				dst := filepath.Join(t.TempDir(), name)
				if err := fixture.CopySources(src, dst); err != nil {
					t.Fatal(err)
				}
				if src == fixture.HostileRoot() {
					// Its inputs are made by the tests: two bugs, two
					// inputs of one of them.
					dir := filepath.Join(dst, "fuzz", "artifacts", "fuzz_echo")
					os.MkdirAll(dir, 0o755)
					for _, data := range []string{"I\x09", "I\x07", "Pplain message"} {
						if err := os.WriteFile(filepath.Join(dir, "crash-"+store.BytesSHA1([]byte(data))), []byte(data), 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
				cfg := quickConfig()
				cfg.Build.Mode = BuildAlways
				cfg.Minimize.Mode = MinimizeOff
				runPipeline(t, dst, cfg)
				arts, buckets := loadStore(t, cfg.StoreDir(dst))
				if len(buckets) == 0 {
					t.Fatalf("%s: no buckets", name)
				}
				ids := map[string]string{}
				for _, a := range arts {
					if a.Bucket != nil {
						ids[a.Path] = a.Bucket.ID
					}
				}
				for _, b := range buckets {
					for _, dir := range []string{"checkout-one", "other_name"} {
						if strings.Contains(b.Key, dir) {
							t.Errorf("%s: key %q names the checkout directory", name, b.Key)
						}
					}
				}
				for _, b := range buckets {
					t.Logf("%s: %s %s", name, b.ID, b.Key)
				}
				got = append(got, ids)
			}
			if !reflect.DeepEqual(got[0], got[1]) {
				t.Errorf("ids differ between checkouts:\n%v\n%v", got[0], got[1])
			}
		})
	}
}
