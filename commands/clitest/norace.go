//go:build !race

package clitest

const raceBuild = false
