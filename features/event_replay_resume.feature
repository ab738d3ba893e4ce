@area-Y
Feature: Resuming the push channel: switching, dropped connections, bad positions and restarts
  docs/protocol.md sections 6 and 6.1 (event numbering and replay), serving spec behaviour P-1
  (the sender hears of every receipt) across reconnections. The seed documentation has no section
  on this (tagged doc-protocol). A client that reconnects with since = the last seq it saw gets
  everything after it exactly once and then live events, however it lost the old connection and
  even while events keep coming; a since that is not a whole number from 0 to 2^53 is refused; a
  since beyond the latest event replays nothing; numbering survives a restart of the service.
  Replay is optional (capability eventReplay).

  @RR-Y-050 @spec-P-1 @doc-protocol @needs-eventReplay @optional
  Scenario Outline: Switching to a new connection while messages keep arriving neither loses nor repeats an event
    Given Alice and Bob are in a <conversation>
    And Alice is online
    And Bob keeps sending plain messages to the chat
    And Alice has received at least 3 of them
    When Alice switches to a new connection from the last event she saw
    And Alice receives a message Bob sent after the switch
    And Bob stops sending
    Then between her two connections Alice received every message Bob sent exactly once, in order
    And the numbering ran on across the switch without a gap or a repeat

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-Y-051 @spec-P-1 @doc-protocol @needs-eventReplay @optional
  Scenario Outline: Resuming after the connection dropped without a Close frame replays what was missed
    Given Alice and Bob are in a <conversation>
    And Alice is online
    And Alice has sent a message that needs a read receipt
    And Bob has sent a read receipt for the message
    And Alice has been notified that the message has been read
    When Alice's connection drops without a Close frame
    And Bob sends 2 plain messages
    And Alice comes back online from the last event she saw
    Then Alice receives the 2 messages Bob sent, in order, with consecutive numbers
    And Alice's stream shows every event exactly once with no gap in the numbering

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-Y-052 @spec-E-2 @doc-protocol @needs-eventReplay @optional
  Scenario Outline: A replay position that is not a whole number from 0 to 2^53 is refused
    Given Alice is a user
    When Alice tries to come online asking for the events after <position>
    Then at the strict level the call fails with code 6017 and HTTP status 400

    Examples:
      | position                          |
      | a negative number                 |
      | a fraction                        |
      | a word                            |
      | nothing                           |
      | a number beyond 2 to the power 53 |

  @RR-Y-053 @spec-P-1 @doc-protocol @needs-eventReplay @optional
  Scenario Outline: Coming online from beyond the latest event replays nothing, and live events follow on from the last one seen
    Given Alice and Bob are in a <conversation>
    And Alice is online
    And Bob has sent a plain message
    And Alice has received the message
    And Alice goes offline
    When Alice comes back online from <position>
    Then Alice receives no event
    When Bob sends a plain message
    Then Alice receives the message
    And it reached Alice numbered right after the last event she saw

    Examples:
      | conversation    | position                          |
      | one-to-one chat | just past the last event she saw  |
      | one-to-one chat | the largest event number there is |
      | group chat      | just past the last event she saw  |
      | group chat      | the largest event number there is |

  @RR-Y-054 @spec-P-1 @doc-protocol @needs-eventReplay @optional
  Scenario Outline: Event numbers carry on across a restart of the service
    Given the service can be restarted by the suite
    And Alice and Bob are in a <conversation>
    And Alice is online
    And Alice has sent a message that needs a read receipt
    And Bob has sent a read receipt for the message
    And Alice has been notified that the message has been read
    When the service restarts
    And Bob sends 2 plain messages
    And Alice comes back online from the last event she saw
    Then Alice receives the 2 messages Bob sent, in order, with consecutive numbers
    And Alice's stream shows every event exactly once with no gap in the numbering

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |
