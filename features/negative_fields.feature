@area-E
Feature: Errors: every field of every method, broken in every way the contract forbids
  Spec behaviour E-3 of docs/spec/receipts-spec.md and docs/protocol.md sections 1.2 and 1.3: a
  wrong type, a missing field, a value out of range or null is refused with a clear error, never
  a crash (5xx), a hang or a partial write. The broken bodies are generated from the method's
  request schema (contract/schemas/requests/): each is one change away from a valid body about
  the scenario's group and message, and is kept only if the schema rejects it. Every one must be
  refused with a 4xx and a description. Strict: the exact code (6017 for a user method, 10004
  for an admin one, 10015 for a new group's ID, 90006 for a body that is not a JSON object), and
  refusing a value just past a limit only docs/protocol.md sets (the history page size, the
  settings' ranges). A body that was not refused is listed with its answer; every request is in
  the transcript.

  @RR-E-020 @spec-E-3 @spec-E-1 @doc-protocol @needs-raw-wire
  Scenario Outline: Every broken body of <method> is refused and changes nothing
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    And everyone has taken note of what they can see
    When <caller> sends <method> with each field broken in every way the contract forbids
    Then every broken body was refused with a 4xx, none with a 5xx or no answer
    And everyone still sees exactly what they noted

    Examples:
      | method                        | caller |
      | sendMessage                   | Bob    |
      | getHistoryMessageList         | Bob    |
      | getConversationList           | Bob    |
      | sendMessageReadReceipts       | Bob    |
      | getMessageReadReceipts        | Alice  |
      | getGroupMessageReadMemberList | Alice  |
      | markC2CMessageAsRead          | Bob    |

  @RR-E-021 @spec-E-3 @spec-E-1 @spec-X-1 @doc-protocol @needs-raw-wire
  Scenario Outline: Every broken body of the administrator's <method> is refused and changes nothing
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    And everyone has taken note of what they can see
    When the administrator sends <method> with each field broken in every way the contract forbids
    Then every broken body was refused with a 4xx, none with a 5xx or no answer
    And everyone still sees exactly what they noted

    Examples:
      | method                   |
      | admin/getSettings        |
      | admin/setSettings        |
      | admin/createUser         |
      | admin/createGroup        |
      | admin/addGroupMembers    |
      | admin/removeGroupMembers |
