// What an admin reads when a request fails: what happened and what to do about it.

export function seconds(ms) {
  return Math.max(1, Math.round(ms / 1000));
}

export function failureText(error, retryInMs) {
  const retry = retryInMs ? ` Retrying in ${seconds(retryInMs)} s.` : '';
  const said = error?.message ? ` (${error.message})` : '';
  if (error?.name !== 'ApiError') {
    return `The console failed to show this answer (${error?.message ?? error}); reload the page.${retry}`;
  }
  switch (error.kind) {
    case 'network':
      return `The collector did not answer: it may be restarting, or this browser cannot reach it.${retry}`;
    case 'timeout':
      return `The collector did not answer within 20 s: it may be frozen or overloaded.${retry}`;
    case 'overloaded':
      return `The collector is busy or cannot reach its database just now${said}; it asked to wait.${retry}`;
    case 'server':
      return `The collector failed to answer${said}; its log says why.${retry}`;
    case 'unauthorized':
      return `The collector no longer accepts this token${said}. Sign in again.`;
    case 'forbidden':
      return `This token may not do this${said}. Sign in with a token of a wider role or scope.`;
    case 'not_found':
      return `Not found${said}: it may have been deleted, or it belongs to a tenant outside this token's scope.`;
    default:
      return `The collector refused the request${said}.${retry}`;
  }
}
