@area-E
Feature: Errors and result envelopes
  Spec area E of docs/spec/receipts-spec.md and docs/protocol.md sections 1.1 to 1.3: every result
  carries code (0 on success), desc and data, like the SDK's callbacks; the HTTP status agrees
  with the code; documented Tencent codes are used where they exist; malformed input gets a clear
  error, never a crash, a hang or a partial write. The codes and statuses seenby chose where the
  spec names none are checked at the strict level (docs/protocol.md "Conformance levels").

  @RR-E-001 @spec-E-1 @doc-protocol @needs-raw-wire
  Scenario: A successful call answers code 0, "ok" and its data
    Given Alice and Bob are in a one-to-one chat
    When Alice asks for her conversation list through a raw call
    Then the answer has code 0, desc "ok", HTTP status 200 and data

  @RR-E-002 @spec-E-1 @spec-E-2 @doc-protocol
  Scenario Outline: A failed call answers its code, a description, no data and a matching HTTP status
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a plain message
    When <failing call>
    Then the call fails with code <code> (strict: HTTP status <status>)
    And the answer carries a description and no data

    Examples:
      | failing call                                                             | code  | status |
      | Bob tries to send read receipts for no messages                          | 6017  | 400    |
      | Bob tries to load the history of a group that does not exist             | 10010 | 404    |
      | Alice tries to list the members who have read the message                | 10062 | 404    |
      | the administrator tries to create a group with a user who does not exist | 10004 | 400    |
      | the administrator tries to create a group with the ID of the Work group  | 10021 | 409    |

  @RR-E-003 @spec-E-2 @doc-protocol
  Scenario Outline: A group ID that is empty, too long or has control characters is refused
    Given Alice is a user
    When the administrator tries to create a group owned by Alice with <group ID>
    Then at the strict level the call fails with code 10015 and HTTP status 400

    Examples:
      | group ID                          |
      | an empty ID                       |
      | an ID of 65 characters            |
      | an ID holding a control character |

  @RR-E-004 @spec-E-3 @spec-E-1 @doc-protocol @needs-raw-wire
  Scenario Outline: A malformed body gets a clear error and changes nothing
    Given Alice and Bob are in a group chat
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When Bob posts <body> as his read receipts
    Then the call fails with code <code> (strict: HTTP status <status>)
    And Alice is not notified of any read receipt
    And Alice sees that nobody has read the message

    Examples:
      | body                              | code  | status |
      | a body that is not JSON           | 90006 | 400    |
      | a JSON array instead of an object | 90006 | 400    |
      | an object with a duplicated key   | 90006 | 400    |
      | bytes that are not UTF-8          | 90006 | 400    |
      | JSON nested 33 levels deep        | 90006 | 400    |
      | a number beyond 2 to the power 53 | 90006 | 400    |
      | a body larger than 1 MiB          | 90005 | 413    |
      | a body of 8 MiB                   | 90005 | 413    |

  @RR-E-005 @spec-E-3 @doc-protocol @needs-raw-wire
  Scenario Outline: A body with a wrong type, a missing field or an unknown field is refused
    Given Alice and Bob are in a group chat
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When Bob sends read receipts with <fault>
    Then the call fails with code 6017 (strict: HTTP status 400)
    And Alice is not notified of any read receipt
    And Alice sees that nobody has read the message

    Examples:
      | fault                                     |
      | the message IDs given as a string         |
      | no message IDs field                      |
      | a number among the message IDs            |

  @RR-E-006 @spec-E-3 @doc-protocol @needs-raw-wire
  Scenario: A misspelt needReadReceipt field never turns read receipts on
    Given Alice and Bob are in a one-to-one chat
    When Alice sends a message with the field needReadReciept misspelt
    Then the call either ignores the unknown field or fails (strict: fails with code 6017)
    And if the message was sent, it does not need a read receipt, for Alice or for Bob

  @RR-E-007 @spec-E-3 @spec-E-2 @doc-protocol @needs-raw-wire
  Scenario: An unknown route and a wrong HTTP method get their own codes
    Given Alice is a user
    When Alice posts to a method that does not exist
    Then the call fails with code 90003 (strict: HTTP status 404)
    When Alice posts to the capabilities, which only answer GET
    Then the call fails with code 90004 (strict: HTTP status 405)
    And the answer names GET as the allowed method

  @RR-E-008 @spec-E-3 @spec-X-1 @doc-protocol @needs-raw-wire
  Scenario: An administrator request with an unknown field is never obeyed
    When the administrator tries to create a user with an extra field the method does not define
    Then the call either ignores the unknown field or fails (strict: fails with code 10004)
    And if the user was created, its token does not open administrator methods

  @RR-E-009 @spec-E-3 @spec-X-1 @doc-protocol @needs-raw-wire
  Scenario: A receipt call with a field the method does not define is never obeyed
    Given Alice and Bob are in a group chat
    And Alice has sent a message that needs a read receipt
    When Bob sends read receipts with an extra field the method does not define
    Then the call either ignores the unknown field or fails (strict: fails with code 6017)
    And the message counts Bob's receipt exactly when the call succeeded

  @RR-E-010 @spec-E-2 @doc-protocol
  Scenario Outline: Administrator conveniences the spec leaves open
    Given Alice, Bob and Carol are in a Work group
    When <request>
    Then at the strict level the call fails with code <code> and HTTP status <status>

    Examples:
      | request                                                            | code  | status |
      | the administrator tries to create Alice again                      | 90007 | 409    |
      | the administrator tries to remove Alice, the owner, from the group | 10004 | 400    |
