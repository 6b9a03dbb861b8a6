// Registers the site's service worker (service-worker.js), before the app starts and knowing
// nothing of it:
// - always, so the page opens offline after a first visit (README, "Offline");
// - with ?isolation=on when the host turns the shim on below, for threads on hosts that cannot
//   send COOP/COEP (GitHub Pages): the service worker adds the headers, and the page reloads
//   once to be cross-origin isolated (README, "Threads"). Costs: the first visit loads twice.
const ISOLATION_SHIM_ON = false;

(() => {
  const RELOADED = 'isolation-service-worker-reloaded';
  const warn = (error) => console.warn(`service-worker-setup.js: ${error.message}; no offline copy, one thread`);
  try {
    // Where storage is blocked, reading navigator.serviceWorker or sessionStorage throws.
    const serviceWorkers = navigator.serviceWorker;
    if (!serviceWorkers) return; // not a secure context, or no service workers
    const script = new URL('service-worker.js', document.currentScript.src);
    if (ISOLATION_SHIM_ON) script.searchParams.set('isolation', 'on');
    // A script URL that differs from the registered one (the shim turned on or off) replaces it;
    // the same one is checked for a new deployment (the browser may skip its own check for a
    // while after one that failed offline). Offline that check fails, and the copy serves.
    const register = () => serviceWorkers.register(script).then((registration) => {
      registration.update().catch(() => {});
      return registration;
    }).catch((error) => warn(error));
    if (!ISOLATION_SHIM_ON) {
      // After the page's own files: the copy of the shell does not compete with them.
      addEventListener('load', register);
      return;
    }
    const registered = register();
    if (window.crossOriginIsolated) {
      sessionStorage.removeItem(RELOADED);
      return;
    }
    // In an iframe the page can be isolated only if the page around it is: no reload for nothing.
    if (window.top !== window.self) return;
    registered.then(async (registration) => {
      if (!registration) return;
      await serviceWorkers.ready; // active: the reload goes through it
      // Once per tab: if the reloaded page is still not isolated, it stays on one thread.
      if (sessionStorage.getItem(RELOADED)) return;
      sessionStorage.setItem(RELOADED, '1');
      location.reload();
    }).catch(warn);
  } catch (error) {
    warn(error);
  }
})();
