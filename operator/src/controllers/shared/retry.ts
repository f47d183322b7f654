// A reconcile that wrote its status and now wants the controller's exponential backoff (a thrown error).
export class RetryLater extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RetryLater";
  }
}
