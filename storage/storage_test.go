package storage

import (
	"math"
	"testing"
)

// CheckRange accepts exactly the ranges inside the blob, including an
// empty one at its end, and is not fooled by an offset+length that
// overflows.
func TestCheckRange(t *testing.T) {
	const size = 100
	for _, tc := range []struct {
		offset, length int64
		ok             bool
	}{
		{0, 100, true},
		{99, 1, true},
		{100, 0, true},
		{50, 0, true},
		{0, 101, false},
		{100, 1, false},
		{101, 0, false},
		{-1, 1, false},
		{0, -1, false},
		{1, math.MaxInt64, false},
		{math.MaxInt64, math.MaxInt64, false},
	} {
		if err := CheckRange("k", tc.offset, tc.length, size); (err == nil) != tc.ok {
			t.Errorf("CheckRange(%d, %d) in %d bytes = %v, want ok=%v", tc.offset, tc.length, size, err, tc.ok)
		}
	}
}
