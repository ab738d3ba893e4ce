@area-C
Feature: Marking a one-to-one chat as read
  Spec area C of docs/spec/receipts-spec.md. Seed documentation, 发送端主动拉取消息已读回执信息 (the
  timestamp row): when the peer calls markC2CMessageAsRead, the user receives
  onRecvC2CReadReceipt carrying the time of the mark. The conversation read mark and message read
  receipts are separate mechanisms: neither moves the other.

  @RR-C-001 @spec-C-1 @doc-sender-pulls
  Scenario: Marking a chat as read clears the reader's unread count and tells the peer
    Given Alice and Bob are in a one-to-one chat
    And Alice is online
    And Alice has sent 2 plain messages
    And Bob has 2 unread messages in the chat
    When Bob marks the chat as read
    Then Bob has 0 unread messages in the chat
    And Alice is notified that Bob marked the chat as read, no earlier than her last message

  @RR-C-002 @spec-C-1 @spec-P-4 @doc-sender-pulls
  Scenario: Only the peer is told that a chat was marked as read
    Given Alice and Bob are in a one-to-one chat
    And Carol is another user
    And Alice, Bob and Carol are online
    And Alice has sent a plain message
    When Bob marks the chat as read
    Then Alice is notified that Bob marked the chat as read, no earlier than her last message
    And Bob is not told of any chat marked as read
    And Carol is not told of any chat marked as read

  @RR-C-003 @spec-C-2 @doc-sender-pulls
  Scenario: The peer's history shows as read exactly the messages the mark covers
    Given Alice and Bob are in a one-to-one chat
    And Alice has sent a plain message "first"
    And Alice has sent a message "second" that needs a read receipt
    When Bob marks the chat as read
    And Alice sends a plain message "after the mark"
    Then in Alice's history "first" and "second" are read by Bob
    And in Alice's history "after the mark" is not read by Bob
    And in Bob's history no message shows as read by its peer

  @RR-C-004 @spec-C-2 @spec-C-1 @doc-sender-pulls
  Scenario: A later mark covers the messages sent since the previous one
    Given Alice and Bob are in a one-to-one chat
    And Alice is online
    And Alice has sent a plain message "first"
    And Bob has marked the chat as read
    And Alice has been notified that Bob marked the chat as read
    When Alice sends a plain message "second"
    And Bob marks the chat as read
    Then Alice is notified that Bob marked the chat as read, no earlier than her last message
    And in Alice's history "first" and "second" are read by Bob

  @RR-C-005 @spec-C-3 @doc-sender-pulls
  Scenario: Marking a chat as read creates no message read receipts
    Given Alice and Bob are in a one-to-one chat
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When Bob marks the chat as read
    Then Alice is notified that Bob marked the chat as read, no earlier than her last message
    And Alice is not notified of any read receipt
    And Alice sees that nobody has read the message

  @RR-C-006 @spec-C-3 @spec-R-6 @doc-sender-pulls
  Scenario: Message read receipts do not move the conversation read mark
    Given Alice and Bob are in a one-to-one chat
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When Bob sends a read receipt for the message
    Then Alice is notified that Bob has read the message
    And Alice is not told of any chat marked as read
    And in Alice's history the message is not read by Bob
    And Bob has 1 unread message in the chat

  @RR-C-007 @spec-C-1 @doc-protocol
  Scenario Outline: Marking as read a chat with oneself or with an unknown user is refused
    Given Bob is a user
    When Bob tries to mark as read his chat with <peer>
    Then at the strict level the call fails with code 6017 and HTTP status 400

    Examples:
      | peer                      |
      | himself                   |
      | a user who does not exist |
