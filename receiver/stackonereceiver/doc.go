// Package stackonereceiver polls StackOne's logs APIs and emits each entry as an OTLP log record.
//
//go:generate make -C ../.. generate
package stackonereceiver
