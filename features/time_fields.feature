@area-V
Feature: Payload validity: time fields are plausible
  Spec behaviours V-1, P-2, Q-2 and C-1 of docs/spec/receipts-spec.md and docs/protocol.md
  section 1 ("Timestamps are integer milliseconds since the Unix epoch"). A schema accepts any
  integer; a time in seconds, from a frozen clock or before the call that made it is still
  wrong. Every time a target gives — a message's as sent, as delivered and in history, a C2C
  receipt's read time as pushed and as pulled, a conversation mark's — lies in the scenario's
  own time window (five minutes either side allowed for a clock that is not the suite's), and
  the times follow the order of the calls.

  @RR-V-010 @spec-V-1 @spec-P-2 @spec-Q-2 @spec-C-1 @doc-protocol
  Scenario: Every time is in milliseconds since the epoch, within the scenario, in the order of the calls
    Given Alice and Bob are in a one-to-one chat
    And Alice and Bob are online
    When the suite notes the time
    And Alice sends a message "first" that needs a read receipt
    And Alice sends a message "second" that needs a read receipt
    And a few milliseconds pass
    And Bob sends a read receipt for "first"
    And Bob sends a read receipt for "second"
    And Bob marks his chat with Alice as read
    Then every time Alice and Bob were given is in milliseconds since the epoch, between the noted time and now
    And the times follow the order of the calls: each message is read after it was sent, the messages in the order sent and read, the chat marked last
