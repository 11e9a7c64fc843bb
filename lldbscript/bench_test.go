package lldbscript

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkSession measures one artifact's lldb session on the dev build
// as the pipeline runs it (3 in-app frames, 4 expressions, formatters):
// the lldb processes started per artifact (one: frames are selected by
// name inside the same process) and the wall time of that run.
//
//	go test ./lldbscript/ -run '^$' -bench Session -benchtime 10x
func BenchmarkSession(b *testing.B) {
	bin, art := ideFixture(&testing.T{})
	spec := &Spec{Binary: bin, Input: art,
		Frames: []FrameSelector{{Function: fnStartDma}, {Function: "ide::IdeDevice::execute_command"}, {Function: "ide::IdeDevice::handle"}},
		Exprs: []Expr{{Name: "st", Path: "self.channels[0].state"}, {Name: "serial", Path: "self.channels[0].drives[0].HardDevice.serial"},
			{Name: "host", Path: "self.host.Some.name"}, {Name: "ev", Path: "self.event_log[0]"}}}
	dir := b.TempDir()
	lldbRuns := 0
	var lldbTime float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Run(context.Background(), spec, RunOptions{Dir: dir})
		if err != nil || res.Status != StatusStopped {
			b.Fatalf("%v %v", err, res.Status)
		}
		// Every lldb process echoes the -O setting once.
		lldbRuns += strings.Count(res.Transcript, "(lldb) settings set interpreter.stop-command-source-on-error false")
		lldbTime += res.Duration.Seconds()
	}
	b.ReportMetric(float64(lldbRuns)/float64(b.N), "lldb-runs/artifact")
	b.ReportMetric(lldbTime/float64(b.N)*1000, "lldb-ms/run")
}
