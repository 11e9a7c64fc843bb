package llvmcov

import (
	"strings"
	"testing"
)

const sampleExport = `{"data":[{"files":[{"filename":"/ws/ide/src/lib.rs","segments":[[1,2,3,true,true,false]],"summary":{"branches":{"count":0,"covered":0,"notcovered":0,"percent":0},"functions":{"count":3,"covered":2,"percent":66.6},"instantiations":{"count":4,"covered":2,"percent":50},"lines":{"count":20,"covered":15,"percent":75},"mcdc":{"count":0,"covered":0,"notcovered":0,"percent":0},"regions":{"count":9,"covered":7,"notcovered":2,"percent":77.7}}}],"functions":[{"branches":[],"count":243,"filenames":["/ws/ide/src/lib.rs"],"mcdc_records":[],"name":"_RNvCs1234_3ide6handle","regions":[[28,54,30,57,243,0,0,0],[29,1,29,9,0,0,0,0]]}],"totals":{"lines":{"count":20,"covered":15}}}],"type":"llvm.coverage.json.export","version":"3.1.0"}`

func TestParseExport(t *testing.T) {
	e, err := ParseExport(strings.NewReader(sampleExport))
	if err != nil {
		t.Fatal(err)
	}
	if e.Version != "3.1.0" || len(e.Files) != 1 || len(e.Functions) != 1 || e.Totals.Lines.Count != 20 {
		t.Fatalf("%+v", e)
	}
	f := e.Files[0]
	if f.Filename != "/ws/ide/src/lib.rs" || f.Summary.Lines != (Count{20, 15}) || f.Summary.Regions != (Count{9, 7}) || f.Summary.Functions != (Count{3, 2}) {
		t.Errorf("file %+v", f)
	}
	fn := e.Functions[0]
	if fn.Count != 243 || len(fn.Regions) != 2 || fn.Regions[0] != (Region{L1: 28, C1: 54, L2: 30, C2: 57, Count: 243}) {
		t.Errorf("function %+v", fn)
	}
	wrapped := strings.Replace(strings.Replace(sampleExport, `"count":243,`, `"count":18446744073709551583,`, 1), `[28,54,30,57,243,`, `[28,54,30,57,18446744073709551583,`, 1)
	if w, err := ParseExport(strings.NewReader(wrapped)); err != nil || w.Functions[0].Count <= 0 || w.Functions[0].Regions[0].Count <= 0 {
		t.Errorf("wrapped counters: %v", err)
	}
	for _, bad := range []string{``, `{}`, `[]`, `{"type":"other","data":[]}`, `{"data":[{"functions":[{"regions":[[1,2]]}]}]}`,
		`{"data":[{"functions":[{"regions":[[1,2,3,4,-5,0,0,0]]}]}]}`, `{"data":[{"files":[`} {
		if _, err := ParseExport(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParseLCOV(t *testing.T) {
	in := "TN:\nSF:/ws/a.rs\nFN:3,_RNvf\nFNDA:4,_RNvf\nDA:3,4\nDA:4,0\nDA:4,2\nLF:2\nLH:2\nend_of_record\nSF:/ws/b.rs\nDA:1,0\nend_of_record\n"
	files, err := ParseLCOV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	a := files["/ws/a.rs"]
	if a == nil || a.Lines[3] != 4 || a.Lines[4] != 2 || a.Functions["_RNvf"] != 3 || files["/ws/b.rs"].Lines[1] != 0 {
		t.Fatalf("%+v", files)
	}
	// A counter left inconsistent by a crash (seen on a real replay).
	odd, err := ParseLCOV(strings.NewReader("SF:/ws/a.rs\nDA:428,18446744073709551583\nend_of_record\n"))
	if err != nil || odd["/ws/a.rs"].Lines[428] <= 0 {
		t.Errorf("a wrapped counter: %v %+v", err, odd)
	}
	for _, bad := range []string{"DA:1,1\n", "SF:x\nDA:x,1\n", "SF:x\nDA:0,1\n", "SF:x\nDA:3,-1\n", "SF:x\nFN:a,b\n"} {
		if _, err := ParseLCOV(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// llvm-cov's output is parsed while it streams; a truncated or hostile
// stream (a profile from elsewhere) must give an error or bounded data,
// never a panic.
func FuzzParseExport(f *testing.F) {
	f.Add(sampleExport)
	f.Add(`{"data":[{"files":[],"functions":[],"totals":{}}],"type":"llvm.coverage.json.export","version":"2.0.1"}`)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseExport(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, fn := range e.Functions {
			for _, r := range fn.Regions {
				if r.L1 < 0 || r.L2 < 0 || r.Count < 0 {
					t.Fatalf("negative region %+v", r)
				}
			}
		}
	})
}

func FuzzParseLCOV(f *testing.F) {
	f.Add("SF:/ws/a.rs\nFN:3,f\nDA:3,4\nend_of_record\n")
	f.Fuzz(func(t *testing.T, s string) {
		files, err := ParseLCOV(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, lf := range files {
			for l, c := range lf.Lines {
				if l <= 0 || c < 0 {
					t.Fatalf("line %d count %d", l, c)
				}
			}
		}
	})
}
