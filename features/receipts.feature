@area-R
Feature: The recipient sends read receipts
  Spec area R of docs/spec/receipts-spec.md. Seed documentation, 接收端发送消息已读回执: once the user
  has seen messages whose needReadReceipt is set, the receiving client calls
  sendMessageReadReceipts with a batch of them, all from one conversation. A batch is applied
  entirely or not at all; messages that need no receipt from this reader are skipped silently;
  a receipt never changes the reader's own unread count.

  @RR-R-001 @spec-R-1 @doc-receiver-sends
  Scenario Outline: A reader sends receipts for several messages in one call
    Given Alice and Bob are in a <conversation>
    And Alice has sent 3 messages that need read receipts
    When Bob sends read receipts for all of them
    Then the call succeeds
    And Alice sees that Bob has read every one of them

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-R-002 @spec-R-1 @spec-R-3 @doc-receiver-sends
  Scenario: A batch mixing two conversations fails and changes nothing
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message "to the team" that needs a read receipt
    And Alice has sent Bob a message "just for Bob" that needs a read receipt in a one-to-one chat of their own
    When Bob tries to send read receipts for "to the team" and "just for Bob"
    Then the call fails with code 6017
    And Alice sees that nobody has read "to the team"
    And Alice sees that nobody has read "just for Bob"

  @RR-R-003 @spec-R-1 @spec-R-3 @doc-receiver-sends
  Scenario: A batch mixing two groups fails and changes nothing
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message "to the team" that needs a read receipt
    And Alice has sent Bob a message "to the other group" that needs a read receipt in a group chat of their own
    When Bob tries to send read receipts for "to the team" and "to the other group"
    Then the call fails with code 6017
    And Alice sees that nobody has read "to the team"
    And Alice sees that nobody has read "to the other group"

  @RR-R-004 @spec-R-2 @doc-receiver-sends
  Scenario: An empty batch of receipts fails
    Given Alice and Bob are in a one-to-one chat
    When Bob tries to send read receipts for no messages
    Then the call fails with code 6017

  @RR-R-005 @spec-R-2 @doc-receiver-sends
  Scenario Outline: A batch exactly as large as the batch limit is accepted
    Given Alice and Bob are in a <conversation>
    And Alice has sent as many messages as the receipt batch limit, each needing a read receipt
    When Bob sends read receipts for all of them
    Then the call succeeds
    And Alice sees that Bob has read every one of them

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-R-006 @spec-R-2 @spec-R-3 @doc-receiver-sends
  Scenario Outline: A batch one message over the batch limit fails and changes nothing
    Given Alice and Bob are in a <conversation>
    And Alice is online
    And Alice has sent one message more than the receipt batch limit, each needing a read receipt
    When Bob tries to send read receipts for all of them
    Then the call fails with code 6017
    And Alice is not notified of any read receipt
    And Alice sees that Bob has read none of them

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-R-007 @spec-R-2 @doc-receiver-sends @needs-adminSettings @serial
  Scenario: The batch limit follows the setting
    Given the receipt batch limit is 2
    And Alice and Bob are in a group chat
    And Alice has sent one message more than the receipt batch limit, each needing a read receipt
    When Bob tries to send read receipts for all of them
    Then the call fails with code 6017
    When Alice sends as many messages as the receipt batch limit, each needing a read receipt
    And Bob sends read receipts for all of them
    Then Alice sees that Bob has read every one of them

  @RR-R-008 @spec-R-3 @doc-receiver-sends
  Scenario Outline: A batch naming a message that does not exist fails and changes nothing
    Given Alice and Bob are in a <conversation>
    And Alice is online
    And Alice has sent 2 messages that need read receipts
    When Bob tries to send read receipts for all of them and a message that does not exist
    Then the call fails with code 6017
    And Alice is not notified of any read receipt
    And Alice sees that Bob has read none of them

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-R-009 @spec-R-3 @spec-X-2 @doc-receiver-sends
  Scenario Outline: A batch naming a message of someone else's conversation fails and changes nothing
    Given Alice and Bob are in a <conversation>
    And Alice has sent a message "for Bob" that needs a read receipt
    And Alice has sent Carol a message "not for Bob" that needs a read receipt in a <conversation> of their own
    When Bob tries to send read receipts for "for Bob" and "not for Bob"
    Then the call fails with code 6017
    And Alice sees that nobody has read "for Bob"
    And Alice sees that nobody has read "not for Bob"

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-R-010 @spec-R-4 @doc-receiver-sends
  Scenario Outline: A reader's own messages in a batch are skipped silently
    Given Alice and Bob are in a <conversation>
    And Alice is online
    And Bob has sent a message "from Bob" that needs a read receipt
    And Alice has sent a message "from Alice" that needs a read receipt
    When Alice sends read receipts for "from Alice" and "from Bob"
    Then the call succeeds
    And Bob sees that Alice has read "from Bob"
    And Alice sees that nobody has read "from Alice"
    And Alice is not notified of any read receipt

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-R-011 @spec-R-4 @spec-S-3 @doc-receiver-sends
  Scenario Outline: Plain messages in a batch are skipped silently
    Given Alice and Bob are in a <conversation>
    And Alice is online
    And Alice has sent a plain message "plain"
    And Alice has sent a message "needs a receipt" that needs a read receipt
    When Bob sends read receipts for "plain" and "needs a receipt"
    Then the call succeeds
    And Alice is notified of read receipts for "needs a receipt" only
    And Alice sees that Bob has read "needs a receipt"

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-R-012 @spec-R-5 @spec-R-4 @doc-receiver-sends
  Scenario Outline: A second receipt for the same message changes nothing and notifies nobody
    Given Alice and Bob are in a <conversation>
    And Alice is online
    And Alice has sent a message that needs a read receipt
    And Bob has sent a read receipt for the message
    And Alice has been notified that the message has been read
    When Bob sends a read receipt for the message again
    Then the call succeeds
    And Alice is not notified again
    And Alice sees that Bob has read the message
    And Alice sees that exactly 1 recipient has read the message

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-R-013 @spec-R-5 @doc-receiver-sends @latitude
  Scenario: The same message twice in one batch counts once, or the batch is refused
    Given Alice, Bob and Carol are in a Work group
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When Bob tries to send a read receipt for the message twice in one call
    Then the call counts Bob's receipt once, or is refused and changes nothing (strict: counts it once)
    And Alice is not notified again

  @RR-R-014 @spec-R-4 @spec-M-1 @doc-protocol
  Scenario: A receipt from a member who joined after the message is skipped silently
    Given Alice, Bob and Carol are in a Work group
    And Alice is online
    And Alice has sent a message that needs a read receipt
    And Dave joins the group
    When Dave sends a read receipt for the message
    Then the call succeeds
    And Alice is not notified of any read receipt
    And Alice sees that 0 members have read the message and 2 have not
    And Dave is in neither member list of the message

  @RR-R-015 @spec-R-6 @doc-receiver-sends
  Scenario Outline: Read receipts do not change the reader's unread count
    Given Alice and Bob are in a <conversation>
    And Alice has sent 2 messages that need read receipts
    And Bob has 2 unread messages in the chat
    When Bob sends read receipts for all of them
    Then the call succeeds
    And Bob has 2 unread messages in the chat

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-R-016 @spec-R-7 @spec-M-2 @doc-receiver-sends
  Scenario: A member who left the group can no longer send receipts for it
    Given Alice, Bob and Carol are in a Work group
    And Alice is online
    And Alice has sent a message that needs a read receipt
    And Carol leaves the group
    When Carol tries to send a read receipt for the message
    Then the call fails with code 6017
    And Alice is not notified of any read receipt
    And Alice sees that 0 members have read the message and 2 have not

  @RR-R-017 @spec-R-7 @spec-M-2 @doc-receiver-sends
  Scenario: Members who read before they left can no longer send receipts for what they had not read
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent messages "first" and "second" that need read receipts
    And Bob has sent a read receipt for "first"
    And Carol has sent a read receipt for "first"
    When Bob and Carol leave the group
    And Bob tries to send a read receipt for "second"
    Then the call fails with code 6017
    When Carol tries to send a read receipt for "second"
    Then the call fails with code 6017
    And Alice sees that 0 members have read "second" and 2 have not
    And Alice sees that 2 members have read "first" and 0 have not
