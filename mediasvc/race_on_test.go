//go:build race

package mediasvc

const raceEnabled = true
