//go:build !race

package mediasvc

const raceEnabled = false
