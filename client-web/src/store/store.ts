import './store.css';

// A little interactivity so the demo page feels like a shop (the cart is fake).
let count = 0;
document.addEventListener('click', (e) => {
  const btn = (e.target as HTMLElement).closest('button.add');
  if (!btn) return;
  count++;
  btn.textContent = '✓ Añadido';
  setTimeout(() => (btn.textContent = 'Añadir'), 1500);
  document.title = `(${count}) Calma Demo Store`;
});
