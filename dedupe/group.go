package dedupe

import (
	"sort"
)

// Bucket is the crashes that share one key.
type Bucket struct {
	ID    BucketID `json:"id" yaml:"id"`
	Key   string   `json:"key" yaml:"key"`
	Count int      `json:"count" yaml:"count"`
	// Representative is the member with the richest trace (most in-app
	// frames, a site found through debug info), ties broken by name.
	Representative string   `json:"representative" yaml:"representative"`
	Members        []string `json:"members" yaml:"members"`
	// Parts is the key broken into its fields.
	Parts Key `json:"parts" yaml:"parts"`
	// Rep is the representative crash, for Cluster.
	Rep Crash `json:"-" yaml:"-"`
}

// Group puts crashes into buckets by key: largest bucket first, then by id.
// Members keep their input order.
func Group(crashes []Crash) []Bucket {
	byID := map[BucketID]*Bucket{}
	var order []BucketID
	for _, c := range crashes {
		k := c.Key()
		id := k.ID()
		b, ok := byID[id]
		if !ok {
			b = &Bucket{ID: id, Key: k.String(), Parts: k, Representative: c.Name, Rep: c}
			byID[id] = b
			order = append(order, id)
		} else if richer(c, k, b.Rep, b.Parts) {
			b.Representative, b.Rep, b.Parts.SiteFrom = c.Name, c, k.SiteFrom
		}
		b.Count++
		b.Members = append(b.Members, c.Name)
	}
	out := make([]Bucket, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func richer(c Crash, k Key, than Crash, thanKey Key) bool {
	score := func(c Crash, k Key) int {
		s := 2 * len(appFrames(c.Trace.Frames))
		if k.SiteFrom == "debug-info" || k.SiteFrom == "frame-at-location" {
			s++
		}
		return s
	}
	a, b := score(c, k), score(than, thanKey)
	if a != b {
		return a > b
	}
	return c.Name < than.Name
}

// Suggestion proposes that two buckets are one bug. It is only a
// suggestion: buckets are never merged by this package.
type Suggestion struct {
	A           BucketID    `json:"a" yaml:"a"`
	B           BucketID    `json:"b" yaml:"b"`
	Similarity  float64     `json:"similarity" yaml:"similarity"`
	Explanation Explanation `json:"explanation" yaml:"explanation"`
}

// Cluster compares the representatives of every pair of buckets and
// suggests merging those at or above the threshold, most similar first.
func Cluster(buckets []Bucket, p SimilarityParams) []Suggestion {
	p = p.withDefaults()
	profiles := make([]*profile, len(buckets))
	for i, b := range buckets {
		if b.Rep.Trace != nil {
			pr := profileOf(b.Rep)
			profiles[i] = &pr
		}
	}
	var out []Suggestion
	for i := range buckets {
		for j := i + 1; j < len(buckets); j++ {
			a, b := profiles[i], profiles[j]
			if a == nil || b == nil || buckets[i].ID == buckets[j].ID || a.key.Kind != b.key.Kind {
				continue
			}
			e := compare(*a, *b, p)
			if e.Similarity >= p.Threshold {
				out = append(out, Suggestion{A: buckets[i].ID, B: buckets[j].ID, Similarity: e.Similarity, Explanation: e})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Similarity > out[j].Similarity })
	return out
}
