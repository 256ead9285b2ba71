// Package metricstest reads a Prometheus text scrape the way a test
// asserts on it: the value of one sample by name and labels.
package metricstest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one parsed exposition.
type Scrape map[string]*dto.MetricFamily

// Parse parses the Prometheus text format.
func Parse(text []byte) (Scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return fams, nil
}

// Get fetches url and parses the answer.
func Get(url string) (Scrape, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: status %d: %s", url, resp.StatusCode, body)
	}
	return Parse(body)
}

// Value is the sum of the samples of family name whose labels include
// every pair of labels (a counter or gauge's value; a histogram's sample
// count). found is false when no sample matches.
func (s Scrape) Value(name string, labels map[string]string) (v float64, found bool) {
	fam, ok := s[name]
	if !ok {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			v += m.Untyped.GetValue()
		}
	}
	return v, found
}

// Sum is the sum of observed values of the histogram name over samples
// matching labels.
func (s Scrape) Sum(name string, labels map[string]string) float64 {
	var v float64
	for _, m := range s[name].GetMetric() {
		if matches(m, labels) && m.Histogram != nil {
			v += m.Histogram.GetSampleSum()
		}
	}
	return v
}

func matches(m *dto.Metric, labels map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, want := range labels {
		if have[k] != want {
			return false
		}
	}
	return true
}
