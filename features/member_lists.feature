@area-L
Feature: The sender pages through the members who have read or not read a group message
  Spec area L of docs/spec/receipts-spec.md. Seed documentation,
  发送端主动拉取群消息已读或未读成员列表: for its own group message, the sender calls
  getGroupMessageReadMemberList with filter READ (0) or UNREAD (1), nextSeq 0 first and then the
  nextSeq of the previous page, and count 1 to 100, until isFinished. Cursors are stable: a walk
  never repeats a member and never skips one that stayed in its list.

  @RR-L-001 @spec-L-1 @doc-member-list
  Scenario: The sender lists who has read its group message and who has not
    Given Alice, Bob, Carol, Dave and Erin are in a Work group
    And Alice has sent a message that needs a read receipt
    And Dave and Bob have sent a read receipt for the message
    Then the members who have read the message are Dave and Bob, in that order
    And the members who have not read the message are Carol and Erin

  @RR-L-002 @spec-L-1 @spec-L-3 @doc-member-list
  Scenario Outline: Before anyone reads, every recipient is unread and nobody is read
    Given Alice owns a Work group with <others> other members
    When Alice sends a message that needs a read receipt
    Then the members who have not read the message are all <others> other members
    And nobody is listed as having read the message

    Examples:
      | others |
      | 1      |
      | 7      |

  @RR-L-003 @spec-L-1 @spec-L-3 @doc-member-list
  Scenario Outline: A page as large as the list holds every member on one page
    Given Alice owns a Work group with 5 other members
    And Alice has sent a message that needs a read receipt
    And <readers> of the other members have sent a read receipt for the message
    When Alice pages through the members who <list> the message, <count> at a time
    Then the pages hold <count> members
    And the walk lists each of those members exactly once

    Examples: the page size equals the recipients, the readers, the non-readers
      | list          | readers | count |
      | have not read | 0       | 5     |
      | have read     | 5       | 5     |
      | have read     | 2       | 2     |
      | have not read | 2       | 3     |

  @RR-L-004 @spec-L-1 @spec-L-3 @doc-member-list
  Scenario Outline: A page one smaller than the list leaves exactly one member for the next page
    Given Alice owns a Work group with 5 other members
    And Alice has sent a message that needs a read receipt
    And <readers> of the other members have sent a read receipt for the message
    When Alice pages through the members who <list> the message, <count> at a time
    Then the pages hold <count> members, then 1 member
    And the walk lists each of those members exactly once

    Examples: the page size is one less than the recipients, the readers, the non-readers
      | list          | readers | count |
      | have not read | 0       | 4     |
      | have read     | 5       | 4     |
      | have read     | 3       | 2     |
      | have not read | 3       | 1     |

  @RR-L-005 @spec-L-3 @doc-member-list
  Scenario: Walking both lists in small pages yields every recipient exactly once
    Given Alice owns a Work group with 10 other members
    And Alice has sent a message that needs a read receipt
    And 4 of the other members have sent a read receipt for the message
    When Alice pages through the members who have read the message, 3 at a time
    And Alice pages through the members who have not read the message, 3 at a time
    Then the two walks together list every other member exactly once
    And the read walk lists exactly the 4 members who sent a receipt

  @RR-L-006 @spec-L-2 @doc-member-list
  Scenario Outline: A page size from 1 to the declared limit (100 unless the target declares less) is accepted
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    When Alice asks for the first page of members who have not read the message, <count> at a time
    Then the call succeeds

    Examples:
      | count                          |
      | 1                              |
      | as many as the page size limit |

  @RR-L-007 @spec-L-2 @doc-member-list
  Scenario Outline: A page size outside 1 to the declared limit fails
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    When Alice tries to ask for the first page of members who have not read the message, <count> at a time
    Then the call fails with code 6017

    Examples:
      | count                             |
      | 0                                 |
      | one more than the page size limit |

  @RR-L-008 @spec-L-2 @doc-member-list
  Scenario: A one-to-one message has no member list
    Given Alice and Bob are in a one-to-one chat
    And Alice has sent a message that needs a read receipt
    When Alice tries to list the members who have read the message
    Then the call fails with code 6017

  @RR-L-009 @spec-L-2 @spec-X-2 @doc-member-list
  Scenario: A member cannot list the readers of someone else's message
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    When Bob tries to list the members who have read the message
    Then the call fails with code 6017
    And the answer has the same code as for a message that does not exist (strict: and the same description)

  @RR-L-010 @spec-L-2 @doc-member-list
  Scenario Outline: An unknown filter or a negative cursor fails
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    When Alice tries to ask for a page of members with filter <filter> from position <position>
    Then the call fails with code 6017

    Examples:
      | filter | position |
      | 2      | 0        |
      | -1     | 0        |
      | 0      | -1       |

  @RR-L-011 @spec-L-4 @doc-protocol
  Scenario: An unread walk during which members read neither repeats nor skips those still unread
    Given Alice owns a Work group with 10 other members
    And Alice has sent a message that needs a read receipt
    When Alice takes the first page of the members who have not read the message, 3 at a time
    And meanwhile 1 member already listed and 2 members not yet listed read the message
    And Alice continues the walk to the end
    Then the walk lists no member twice
    And the walk lists every member who stayed unread throughout

  @RR-L-012 @spec-L-4 @doc-protocol
  Scenario: A read walk during which more members read neither repeats nor skips earlier readers
    Given Alice owns a Work group with 10 other members
    And Alice has sent a message that needs a read receipt
    And 5 of the other members have sent a read receipt for the message
    When Alice takes the first page of the members who have read the message, 2 at a time
    And meanwhile 3 members not yet listed read the message
    And Alice continues the walk to the end
    Then the walk lists no member twice
    And the walk lists every member who had read before the walk began

  @RR-L-013 @spec-L-5 @doc-member-list
  Scenario: Listed members carry their user ID and their profile
    Given Erin is a user with the profile picture "https://example.test/erin.png"
    And Alice, Bob and Erin are in a Work group
    And Alice has sent a message that needs a read receipt
    And Bob has sent a read receipt for the message
    When Alice lists the members who have read the message
    Then each listed member carries its user ID and its nickname
    When Alice lists the members who have not read the message
    Then each listed member carries its user ID and its nickname
    And Erin is listed with the profile picture "https://example.test/erin.png"
