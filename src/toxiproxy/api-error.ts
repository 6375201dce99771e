// Errors with Toxiproxy's messages and status codes; the body is {"error": ..., "status": ...}.
export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export const ERRORS = {
  badBody: (detail: string) => new ApiError(`bad request body: ${detail}`, 400),
  missingField: (field: string) => new ApiError(`missing required field: ${field}`, 400),
  proxyNotFound: new ApiError('proxy not found', 404),
  proxyExists: new ApiError('proxy already exists', 409),
  invalidStream: new ApiError('stream was invalid, can be either upstream or downstream', 400),
  invalidToxicType: new ApiError('invalid toxic type', 400),
  toxicExists: new ApiError('toxic already exists', 409),
  toxicNotFound: new ApiError('toxic not found', 404),
};
