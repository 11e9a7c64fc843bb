package dedupe

import (
	"fmt"
	"math"
	"strings"

	"github.com/fuzztriage/triage/symbolize"
)

// Crash is one parsed crash with what its key needs: its own key options,
// because the target and the binary (resolver) belong to the crash.
type Crash struct {
	// Name identifies the crash for people: an artifact or log file.
	Name    string
	Trace   *symbolize.Trace
	Options Options
}

// Key is KeyFor(c.Trace, c.Options).
func (c Crash) Key() Key { return KeyFor(c.Trace, c.Options) }

// SimilarityParams tune the second tier. The zero value is the default.
type SimilarityParams struct {
	// PositionDecay (ReBucket's c) weighs a matched frame by
	// exp(-c*position): how much more the top of the stack counts.
	// Default 0.5: in-app Rust stacks are a handful of frames and the top
	// one decides (ReBucket's 0.04 was tuned on long C/C# stacks).
	PositionDecay float64
	// OffsetDecay (ReBucket's o) weighs a match by exp(-o*|i-j|): how much
	// a frame that moved up or down the stack still counts. Default 0.13.
	OffsetDecay float64
	// Threshold is the similarity at or above which Cluster suggests a
	// merge. Default 0.7.
	Threshold float64
}

func (p SimilarityParams) withDefaults() SimilarityParams {
	if p.PositionDecay <= 0 {
		p.PositionDecay = 0.5
	}
	if p.OffsetDecay <= 0 {
		p.OffsetDecay = 0.13
	}
	if p.Threshold <= 0 {
		p.Threshold = 0.7
	}
	return p
}

// FrameMatch is one pair of frames the alignment matched.
type FrameMatch struct {
	Function string  `json:"function" yaml:"function"`
	A        int     `json:"a" yaml:"a"` // position among A's in-app frames, 0 = top
	B        int     `json:"b" yaml:"b"`
	Weight   float64 `json:"weight" yaml:"weight"`
}

// Explanation says why two crashes are, or are not, alike.
type Explanation struct {
	// Similarity is Frames * Message, or 0 for different kind families.
	Similarity float64 `json:"similarity" yaml:"similarity"`
	SameKind   bool    `json:"same_kind" yaml:"same_kind"`
	// Frames is the position-weighted alignment score of the in-app frames
	// (1 = the same frames at the same positions).
	Frames float64 `json:"frames" yaml:"frames"`
	// Message is the similarity of the message templates (token LCS, Dice).
	Message float64 `json:"message" yaml:"message"`
	// Matched are the aligned frames, top first.
	Matched []FrameMatch `json:"matched,omitempty" yaml:"matched,omitempty"`
	// FramesA and FramesB are the in-app frames compared (at most the
	// first 32).
	FramesA []string `json:"frames_a,omitempty" yaml:"frames_a,omitempty"`
	FramesB []string `json:"frames_b,omitempty" yaml:"frames_b,omitempty"`
	// CommonMessage are the message template words both share, in order;
	// OnlyA and OnlyB the words of each that the other lacks.
	CommonMessage []string `json:"common_message,omitempty" yaml:"common_message,omitempty"`
	OnlyA         []string `json:"only_a,omitempty" yaml:"only_a,omitempty"`
	OnlyB         []string `json:"only_b,omitempty" yaml:"only_b,omitempty"`
	// Notes say what else decided the score (missing stacks, kinds).
	Notes []string `json:"notes,omitempty" yaml:"notes,omitempty"`
}

// Similarity compares two crashes: 0 across kind families, otherwise the
// product of a position-dependent frame alignment in ReBucket's style over
// the in-app frames (so both the stack and the message must agree for a
// high score) and the similarity of the message templates.
//
// A crash without any in-app frame (a timeout or OOM on a plain build) has
// nothing to align: against another of its kind and target its frame score
// is 1, with a note, since that is all the evidence there is.
func Similarity(a, b Crash, p SimilarityParams) Explanation {
	return compare(profileOf(a), profileOf(b), p.withDefaults())
}

// maxComparedFrames bounds the in-app frames the alignment looks at: a
// recursion prints hundreds, and with the default position decay frames
// past the first dozen weigh nothing.
const maxComparedFrames = 32

// profile is what the second tier compares of one crash, computed once per
// crash (Cluster compares every pair of buckets).
type profile struct {
	key    Key
	frames []string
	target string
}

func profileOf(c Crash) profile {
	return profile{key: c.Key(), frames: tokens(appFrames(c.Trace.Frames), maxComparedFrames), target: c.Options.Target}
}

func compare(a, b profile, p SimilarityParams) Explanation {
	var e Explanation
	e.SameKind = a.key.Kind == b.key.Kind
	if !e.SameKind {
		e.Notes = append(e.Notes, fmt.Sprintf("different kinds: %s and %s", a.key.Kind, b.key.Kind))
		return e
	}
	e.FramesA, e.FramesB = a.frames, b.frames
	switch {
	case len(a.frames) == 0 || len(b.frames) == 0:
		ta, tb := a.target, b.target
		switch {
		case len(a.frames) == 0 && len(b.frames) == 0 && ta == tb:
			e.Frames = 1
			e.Notes = append(e.Notes, "neither has a stack; same target "+quoteOr(ta))
		case ta != "" && ta == tb:
			e.Frames = 1
			e.Notes = append(e.Notes, "only one has a stack (plain builds print none for this kind); same target "+ta)
		default:
			e.Notes = append(e.Notes, fmt.Sprintf("a stack is missing and the targets differ (%s, %s)", quoteOr(ta), quoteOr(tb)))
		}
	default:
		e.Frames, e.Matched = alignFrames(a.frames, b.frames, p)
	}
	e.Message, e.CommonMessage, e.OnlyA, e.OnlyB = messageSimilarity(a.key.Message, b.key.Message)
	e.Frames = round3(e.Frames)
	e.Similarity = round3(e.Frames * e.Message)
	return e
}

func quoteOr(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// alignFrames is ReBucket's position-dependent model: the best alignment
// (an LCS-style dynamic program) of two frame lists, each matched pair
// scoring exp(-c*min(i,j)) * exp(-o*|i-j|), normalized by the score of a
// perfect match of the shorter list.
func alignFrames(a, b []string, p SimilarityParams) (float64, []FrameMatch) {
	n, m := len(a), len(b)
	score := make([][]float64, n+1)
	for i := range score {
		score[i] = make([]float64, m+1)
	}
	weight := func(i, j int) float64 {
		return math.Exp(-p.PositionDecay*float64(min(i, j))) * math.Exp(-p.OffsetDecay*math.Abs(float64(i-j)))
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			best := max(score[i-1][j], score[i][j-1])
			if a[i-1] == b[j-1] {
				best = max(best, score[i-1][j-1]+weight(i-1, j-1))
			}
			score[i][j] = best
		}
	}
	var matches []FrameMatch
	for i, j := n, m; i > 0 && j > 0; {
		switch {
		case a[i-1] == b[j-1] && score[i][j] == score[i-1][j-1]+weight(i-1, j-1):
			matches = append(matches, FrameMatch{Function: a[i-1], A: i - 1, B: j - 1, Weight: round3(weight(i-1, j-1))})
			i, j = i-1, j-1
		case score[i-1][j] >= score[i][j-1]:
			i--
		default:
			j--
		}
	}
	for l, r := 0, len(matches)-1; l < r; l, r = l+1, r-1 {
		matches[l], matches[r] = matches[r], matches[l]
	}
	norm := 0.0
	for l := 0; l < min(n, m); l++ {
		norm += math.Exp(-p.PositionDecay * float64(l))
	}
	if norm == 0 {
		return 0, nil
	}
	return math.Min(1, score[n][m]/norm), matches
}

// messageSimilarity compares two message templates word by word: twice the
// longest common subsequence over the total length (Dice). Two empty
// messages are alike; an empty one against a non-empty one half alike.
func messageSimilarity(a, b string) (float64, []string, []string, []string) {
	wa, wb := strings.Fields(a), strings.Fields(b)
	if len(wa) == 0 && len(wb) == 0 {
		return 1, nil, nil, nil
	}
	if len(wa) == 0 || len(wb) == 0 {
		return 0.5, nil, wa, wb
	}
	n, m := len(wa), len(wb)
	l := make([][]int, n+1)
	for i := range l {
		l[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if wa[i] == wb[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var common, onlyA, onlyB []string
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case wa[i] == wb[j]:
			common = append(common, wa[i])
			i, j = i+1, j+1
		case l[i+1][j] >= l[i][j+1]:
			onlyA = append(onlyA, wa[i])
			i++
		default:
			onlyB = append(onlyB, wb[j])
			j++
		}
	}
	onlyA = append(onlyA, wa[i:]...)
	onlyB = append(onlyB, wb[j:]...)
	return round3(2 * float64(l[0][0]) / float64(n+m)), common, onlyA, onlyB
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
