package dedupe
import ("testing";"fmt";"os";"path/filepath";"sort";"github.com/fuzztriage/triage/symbolize")
func TestTmpLogs(t *testing.T){
	for _, v := range []string{"release","dev","asan"} {
		files, _ := filepath.Glob("/tmp/dd/logs/"+v+"/*/*.log")
		sort.Strings(files)
		for _, f := range files {
			data, _ := os.ReadFile(f)
			tr, err := symbolize.Parse(data)
			if err != nil { fmt.Println(f, err); continue }
			k := KeyFor(tr, Options{Target: filepath.Base(filepath.Dir(f))})
			fmt.Printf("%s %s %s %s %s\n", v, filepath.Base(f)[:14], k.ID(), k.SiteFrom, k)
		}
	}
}
