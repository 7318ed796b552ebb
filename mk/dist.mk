.PHONY: test-e2e
test-e2e:
	@echo "e2e: not written yet"
