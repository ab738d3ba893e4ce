@area-Y
Feature: Push event numbering and replay after a reconnect
  docs/protocol.md section 6 and 6.1, serving spec behaviour P-1 (every connection of the sender
  is told) across disconnections. Every event of a user carries a seq that rises by exactly one,
  whichever connection delivers it. A client that was offline reconnects with since = the last seq
  it saw and receives what it missed, in order and exactly once, then live events with no gap and
  no repeat. Replay is optional (capability eventReplay).

  @RR-Y-001 @spec-P-1 @doc-protocol
  Scenario: Every connection of a user sees the same events with the same consecutive numbers
    Given Alice and Bob are in a group chat
    And Alice is online on two devices
    And Alice has sent 3 messages that need read receipts
    When Bob sends read receipts for all of them, one call per message
    Then each of Alice's devices is notified of 3 read receipt events
    And Alice's devices saw the same events with the same sequence numbers, rising by one

  @RR-Y-002 @spec-P-1 @spec-P-3 @doc-protocol @needs-eventReplay @optional
  Scenario: Reconnecting from the last seen event replays what was missed, then continues live
    Given Alice, Bob and Carol are in a Work group
    And Alice is online
    And Alice has sent messages "one", "two" and "three" that need read receipts
    And Bob has sent a read receipt for "one"
    And Alice has been notified of read receipts for "one" only
    And Alice goes offline
    When Bob sends read receipts for "two" and "three", one call per message
    And Alice comes back online from the last event she saw
    Then Alice receives the 2 missed notifications in order, numbered right after the last one she saw
    When Carol sends a read receipt for "three"
    Then Alice is notified that 2 members have read "three" and 0 have not
    And Alice's stream shows every event exactly once with no gap in the numbering

  @RR-Y-003 @spec-P-1 @doc-protocol @needs-eventReplay @optional
  Scenario: Reconnecting from the very beginning replays every event of the user
    Given Alice and Bob are in a one-to-one chat
    And Bob has sent 2 messages that need read receipts
    When Alice comes online from the very beginning
    Then Alice receives the 2 messages Bob sent, in order, with consecutive numbers

  @RR-Y-004 @spec-P-1 @doc-protocol @needs-eventReplay @optional
  Scenario: Reconnecting from beyond the latest event replays nothing and continues live
    Given Alice and Bob are in a one-to-one chat
    And Alice is online
    And Alice has sent a message that needs a read receipt
    And Bob has sent a read receipt for the message
    And Alice has been notified that the message has been read
    And Alice goes offline
    When Alice comes back online from 100 events after the last one she saw
    Then Alice receives no event
    When Bob sends a plain message
    Then Alice receives the message

  @RR-Y-005 @spec-P-1 @spec-E-2 @doc-protocol @needs-eventReplay @optional
  Scenario: A negative replay position is refused
    Given Alice is a user
    When Alice tries to come online from event -1
    Then at the strict level the call fails with code 6017 and HTTP status 400
